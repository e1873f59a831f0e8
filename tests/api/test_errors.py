"""Bad requests: always the one error shape, the right status, and never a 500."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from normgraph.settings import Settings
from tests.api.demo_facts import CUSTOMER, assert_error

QUERY = "/v1/norms/query"


def test_a_malformed_constraint_is_422_naming_it(client: TestClient) -> None:
    bad = "the customer is a toddler"
    err = assert_error(client.post(QUERY, json={"setting": "restaurant", "facts": [CUSTOMER, bad]}), 422, "constraint_syntax")
    assert bad in err["message"]
    assert err["details"]["constraint"] == bad


def test_a_malformed_structured_constraint_is_422(client: TestClient) -> None:
    resp = client.post(QUERY, json={"setting": "restaurant", "facts": [{"subject": "alien", "attribute": "role", "value": "x"}]})
    err = assert_error(resp, 422, "validation_error")
    assert any("facts" in [str(p) for p in e["loc"]] for e in err["details"])


def test_an_unknown_setting_is_404(client: TestClient) -> None:
    err = assert_error(client.post(QUERY, json={"setting": "moon base"}), 404, "not_found")
    assert "moon base" in err["message"]


@pytest.mark.parametrize("limit", [0, -1, 10000, 501])
def test_a_limit_out_of_range_is_422(client: TestClient, limit: int) -> None:
    err = assert_error(client.post(QUERY, json={"setting": "restaurant", "limit": limit}), 422)
    assert "limit" in json.dumps(err)


def test_a_bad_cursor_is_422(client: TestClient) -> None:
    for cursor in ["garbage!", "eyJmb28iOiAxfQ", ""]:
        err = assert_error(client.post(QUERY, json={"setting": "restaurant", "cursor": cursor}), 422)
        assert "cursor" in err["message"], err


def test_a_missing_body_is_422(client: TestClient) -> None:
    err = assert_error(client.post(QUERY), 422, "validation_error")
    assert "body" in err["message"]


def test_invalid_json_is_422(client: TestClient) -> None:
    resp = client.post(QUERY, content=b'{"setting": "restaurant",', headers={"content-type": "application/json"})
    err = assert_error(resp, 422, "invalid_json")
    assert "JSON" in err["message"]


def test_a_body_that_is_not_an_object_or_lacks_the_setting_is_422(client: TestClient) -> None:
    assert_error(client.post(QUERY, json=["restaurant"]), 422, "validation_error")
    err = assert_error(client.post(QUERY, json={"facts": [CUSTOMER]}), 422, "validation_error")
    assert "setting" in err["message"]
    err = assert_error(client.post(QUERY, json={"setting": "restaurant", "fact": [CUSTOMER]}), 422, "validation_error")
    assert "fact" in err["message"]


def test_incompatible_facts_are_422_naming_both(client: TestClient) -> None:
    a, b = "[PERSON]'s gender is 'man'", "[PERSON]'s gender is 'woman'"
    err = assert_error(client.post(QUERY, json={"setting": "restaurant", "facts": [a, b]}), 422, "incompatible_constraints")
    text = err["message"] + json.dumps(err["details"])
    assert "'man'" in text and "'woman'" in text


def test_an_unknown_route_is_404_in_the_error_shape(client: TestClient) -> None:
    err = assert_error(client.get("/v2/nothing/here"), 404, "not_found")
    assert "/v2/nothing/here" in err["message"]


def test_a_wrong_method_is_405_in_the_error_shape(client: TestClient) -> None:
    resp = client.delete("/v1/settings")
    err = assert_error(resp, 405, "method_not_allowed")
    assert "GET" in resp.headers.get("allow", "") and "GET" in err["message"]


NASTY = [
    "'",
    '"',
    "\\",
    "'; DROP ALL; --",
    "> } UNION { ?s ?p ?o",
    "<http://example.org/x>",
    "\u0000",
    "line\nbreak",
    "ünïcødé ☃",
    "%00",
    "x" * 400,
]


@pytest.mark.parametrize("text", NASTY)
def test_hostile_input_never_causes_a_500(client: TestClient, text: str) -> None:
    responses = [
        client.post(QUERY, json={"setting": text}),
        client.post(QUERY, json={"setting": "restaurant", "behavior": text}),
        client.post(QUERY, json={"setting": "restaurant", "facts": [text]}),
        client.post(QUERY, json={"setting": "restaurant", "facts": [f"[PERSON]'s role is '{text}'"]}),
        client.get("/v1/norms/" + quote(text, safe="")),
        client.get("/v1/settings/" + quote(text, safe="")),
        client.get("/v1/settings", params={"cursor": text}),
    ]
    for resp in responses:
        assert resp.status_code < 500, (resp.request.url, resp.status_code, resp.text)
        if resp.status_code >= 400:
            assert_error(resp, resp.status_code)


def test_an_unexpected_failure_is_500_without_internals(app_settings: Settings) -> None:
    app = create_app(app_settings.model_copy(update={"read_only": True}))

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internal detail")

    with TestClient(app, raise_server_exceptions=False) as c:
        resp = c.get("/boom")
    assert_error(resp, 500, "internal_error")
    assert "secret" not in resp.text
    assert "RuntimeError" not in resp.text


# --- inputs that once crashed the error handler itself, and bodies too large to read ---------------------------

HUGE = "18446744073709551616"  # 2**64: valid JSON, one past what orjson can write back


@pytest.mark.parametrize(
    "path, body",
    [
        (QUERY, '{"setting": "restaurant", "limit": %s}' % HUGE),
        (QUERY, '{"setting": "restaurant", "limit": -%s}' % HUGE),
        (QUERY, '{"setting": "restaurant", "limit": 1%s}' % ("0" * 4000)),
        ("/v1/retrieve", '{"query": "shouting", "k": %s}' % HUGE),
        ("/v1/prompt", '{"situation": "shouting", "max_tokens": %s}' % HUGE),
    ],
)
def test_integers_beyond_64_bits_are_422_not_500(client: TestClient, path: str, body: str) -> None:
    resp = client.post(path, content=body.encode(), headers={"content-type": "application/json"})
    err = assert_error(resp, 422)
    assert len(resp.content) < 5_000, len(resp.content)  # the 5,000-digit number is not echoed back whole
    assert "limit" in err["message"] or "k" in err["message"] or "max_tokens" in err["message"], err


@pytest.mark.parametrize("field", ["setting", "behavior"])
def test_a_lone_surrogate_is_answered_in_the_error_shape(client: TestClient, field: str) -> None:
    body = {"setting": "restaurant"} | {field: "\ud800"}
    resp = client.post(QUERY, content=json.dumps(body).encode(), headers={"content-type": "application/json"})
    assert resp.status_code in (404, 422), resp.text
    assert_error(resp, resp.status_code)


@pytest.mark.parametrize("fact", ["[PERSON]'s role is '\ud800'", "\udfff"])
def test_a_lone_surrogate_in_a_fact_is_422(client: TestClient, fact: str) -> None:
    body = json.dumps({"setting": "restaurant", "facts": [fact]})
    resp = client.post(QUERY, content=body.encode(), headers={"content-type": "application/json"})
    assert_error(resp, 422, "constraint_syntax")


@pytest.mark.parametrize("raw", [b'{"setting": "caf\xe9"}', b'{"setting": "restaurant", "limit": 1' + b"0" * 5000 + b"}"])
def test_a_body_json_cannot_read_is_422_invalid_json(client: TestClient, raw: bytes) -> None:
    resp = client.post(QUERY, content=raw, headers={"content-type": "application/json"})
    assert_error(resp, 422, "invalid_json")


def test_a_body_over_the_limit_is_413_and_is_not_echoed(client: TestClient) -> None:
    big = json.dumps({"setting": "x" * 10_000_000}).encode()
    resp = client.post(QUERY, content=big, headers={"content-type": "application/json"})
    err = assert_error(resp, 413, "payload_too_large")
    assert err["details"]["limit"] == 1_048_576
    assert len(resp.content) < 1_000


def test_a_chunked_body_over_the_limit_is_413(client: TestClient) -> None:
    def chunks():  # no Content-Length: counted as it streams
        yield b'{"setting": "'
        for _ in range(40):
            yield b"y" * 65_536
        yield b'"}'

    resp = client.post(QUERY, content=chunks(), headers={"content-type": "application/json"})
    assert_error(resp, 413, "payload_too_large")


def test_a_long_but_allowed_string_is_not_echoed_whole(client: TestClient) -> None:
    resp = client.post(QUERY, json={"setting": "z" * 500_000})
    err = assert_error(resp, resp.status_code)
    assert resp.status_code in (404, 422)
    assert len(resp.content) < 2_000, len(resp.content)
    assert "500000 characters" in json.dumps(err)


def test_the_body_limit_is_a_setting(app_settings: Settings) -> None:
    small = app_settings.model_copy(update={"max_body_bytes": 2048, "read_only": True})  # the session app holds the lock
    with TestClient(create_app(small)) as c:
        assert_error(c.post(QUERY, json={"setting": "s" * 3000}), 413, "payload_too_large")
        assert c.post(QUERY, json={"setting": "restaurant"}).status_code == 200


def test_errors_name_the_data_home_not_its_path(client: TestClient, app_settings: Settings) -> None:
    # The session's demo home has no retrieval index: the library's error names the index directory.
    resp = client.post("/v1/retrieve", json={"query": "my phone rings"})
    err = assert_error(resp, 503, "index_missing")
    assert str(app_settings.home) not in resp.text
    assert str(app_settings.home.resolve()) not in resp.text
    assert "$NORMGRAPH_HOME" in err["message"], err
