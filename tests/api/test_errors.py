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
    err = assert_error(resp, 500, "internal_error")
    assert "secret" not in resp.text
    assert "RuntimeError" not in resp.text
