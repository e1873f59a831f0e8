"""POST /v1/norms/query over the demo bank: non-monotonic resolution through HTTP, and its pagination."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.api.demo_facts import CUSTOMER, TODDLER, assert_error, demo_rows, stored_id


def _query(client: TestClient, **body: Any) -> dict[str, Any]:
    resp = client.post("/v1/norms/query", json=body)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    return resp.json()


def _shout(client: TestClient, facts: list[Any]) -> dict[str, Any]:
    data = _query(client, setting="restaurant", behavior="shout", facts=facts)
    assert [r["behavior"] for r in data["results"]] == ["shout"]
    return data["results"][0]


def _ids(items: list[dict[str, Any]]) -> set[str]:
    return {i["id"] for i in items}


def test_a_customer_shouting_is_unexpected_and_the_toddler_norm_is_conditional(client: TestClient) -> None:
    r = _shout(client, [CUSTOMER])
    assert r["label"] == "unexpected"
    assert r["basis"] == "applicable"
    assert stored_id("demo-restaurant-shout-1") in _ids(r["norms"])
    assert all(n["label"] == "unexpected" for n in r["norms"])
    conditional = {c["id"]: c for c in r["conditional"]}
    assert stored_id("demo-restaurant-shout-2") in conditional, r["conditional"]
    assert conditional[stored_id("demo-restaurant-shout-2")]["label"] == "okay"
    assert conditional[stored_id("demo-restaurant-shout-2")]["unknown"] == [TODDLER]
    # unknown is never treated as satisfied: the toddler norm neither decides nor defeats anything
    assert r["defeated"] == []


def test_a_toddler_customer_shouting_is_okay_and_defeats_the_general_norm(client: TestClient) -> None:
    r = _shout(client, [CUSTOMER, TODDLER])
    assert r["label"] == "okay"
    assert r["basis"] == "applicable"
    assert stored_id("demo-restaurant-shout-2") in _ids(r["norms"])
    defeated = {d["id"]: d for d in r["defeated"]}
    assert defeated[stored_id("demo-restaurant-shout-1")]["defeated_by"] == [stored_id("demo-restaurant-shout-2")]
    assert r["conflict"] is False


def test_structured_facts_and_one_joined_string_mean_the_same_as_separate_strings(client: TestClient) -> None:
    as_strings = _shout(client, [CUSTOMER, TODDLER])
    structured = _shout(
        client,
        [
            {"subject": "person", "attribute": "role", "relation": "is", "value": "customer"},
            {"subject": "person", "attribute": "age bracket", "value": "toddler"},
        ],
    )
    joined = _shout(client, [f"{CUSTOMER} [AND] {TODDLER}"])
    bare = _shout(client, f"{CUSTOMER} [AND] {TODDLER}")  # type: ignore[arg-type]
    assert structured == as_strings == joined == bare


def test_the_answer_echoes_the_normalised_facts_and_the_setting_chain(client: TestClient) -> None:
    data = _query(client, setting="diner", behavior="shout", facts=[{"subject": "person", "attribute": "role", "value": "customer"}])
    assert data["setting"] == "diner"
    assert data["setting_chain"] == ["diner", "restaurant"]
    assert data["facts"] == [CUSTOMER]
    # the restaurant norm is inherited by the diner
    assert stored_id("demo-restaurant-shout-1") in _ids(data["results"][0]["norms"])


def test_a_setting_alias_answers_as_the_setting(client: TestClient) -> None:
    by_alias = _query(client, setting="eatery", behavior="shout", facts=[CUSTOMER])
    by_name = _query(client, setting="restaurant", behavior="shout", facts=[CUSTOMER])
    assert by_alias["setting"] == "restaurant"
    assert by_alias["results"] == by_name["results"]


def test_include_defeated_false_leaves_the_defeated_out(client: TestClient) -> None:
    data = _query(client, setting="restaurant", behavior="shout", facts=[CUSTOMER, TODDLER], include_defeated=False)
    r = data["results"][0]
    assert r["label"] == "okay"
    assert r["defeated"] == []


def test_limit_one_walks_every_behaviour_exactly_once_in_a_stable_order(client: TestClient) -> None:
    whole = _query(client, setting="restaurant", facts=[CUSTOMER], limit=500)
    assert whole["next_cursor"] is None
    expected = [r["behavior"] for r in whole["results"]]
    own = {r["behavior"] for r in demo_rows() if r["setting"] == "restaurant"}
    assert own <= set(expected), own - set(expected)
    assert expected == sorted(expected)

    walked: list[str] = []
    pages = 0
    cursor = None
    while True:
        body: dict[str, Any] = {"setting": "restaurant", "facts": [CUSTOMER], "limit": 1}
        if cursor is not None:
            body["cursor"] = cursor
        page = _query(client, **body)
        pages += 1
        assert len(page["results"]) == 1
        walked.append(page["results"][0]["behavior"])
        assert page["results"][0] == whole["results"][len(walked) - 1]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert pages <= len(expected), "pagination does not end"
    assert walked == expected
    # the same cursor gives the same page again (stable, not a server-side session)
    second = _query(client, setting="restaurant", facts=[CUSTOMER], limit=1)["next_cursor"]
    again = [_query(client, setting="restaurant", facts=[CUSTOMER], limit=2, cursor=second)["results"][i]["behavior"] for i in (0, 1)]
    assert again == expected[1:3]


def test_the_default_page_size_is_the_configured_one(client: TestClient, app_settings: Any) -> None:
    data = _query(client, setting="restaurant")
    assert len(data["results"]) == min(app_settings.page_limit, len(_query(client, setting="restaurant", limit=500)["results"]))


def test_an_unknown_behaviour_gives_an_empty_answer_not_an_error(client: TestClient) -> None:
    data = _query(client, setting="restaurant", behavior="juggle chainsaws")
    assert data["results"] == []
    assert data["next_cursor"] is None


def test_the_query_endpoint_rejects_a_get(client: TestClient) -> None:
    # GET /v1/norms/query reads "query" as a statement id: an unknown id, not a crash
    assert_error(client.get("/v1/norms/query"), 404, "not_found")
