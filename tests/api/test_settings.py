"""GET /v1/settings (paginated, counted) and GET /v1/settings/{name} (aliases resolve)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.api.demo_facts import assert_error, demo_setting_counts


def _get(client: TestClient, url: str, **params: Any) -> dict[str, Any]:
    resp = client.get(url, params=params)
    assert resp.status_code == 200, resp.text
    return resp.json()


def _walk(client: TestClient, limit: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(10_000):
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        page = _get(client, "/v1/settings", **params)
        assert len(page["items"]) <= limit
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("settings pagination does not end")


def test_settings_are_listed_once_each_in_name_order_whatever_the_page_size(client: TestClient) -> None:
    one = _walk(client, 1)
    names = [s["name"] for s in one]
    assert names == sorted(names)
    assert len(names) == len(set(names))
    assert one == _walk(client, 7) == _walk(client, 500)
    # every setting the demo bank uses is listed
    assert set(demo_setting_counts()) <= set(names)


def test_settings_carry_their_norm_counts_broader_settings_and_aliases(client: TestClient) -> None:
    by_name = {s["name"]: s for s in _walk(client, 500)}
    for setting, n in demo_setting_counts().items():
        assert by_name[setting]["norm_count"] == n, setting
    assert by_name["diner"]["broader"] == ["restaurant"]
    assert "eatery" in by_name["restaurant"]["alt_labels"]
    assert by_name["restaurant"]["id"] == "setting/restaurant"


def test_a_setting_by_alias_is_the_setting(client: TestClient) -> None:
    by_alias = _get(client, "/v1/settings/eatery")
    by_name = _get(client, "/v1/settings/restaurant")
    assert by_alias == by_name
    assert by_name["name"] == "restaurant"
    assert "diner" in by_name["narrower"]
    assert "shout" in by_name["behaviors"]
    assert by_name["norm_count"] == demo_setting_counts()["restaurant"]
    assert by_name["inherited_norm_count"] == 0


def test_a_narrower_setting_inherits_the_counts_of_its_chain(client: TestClient) -> None:
    diner = _get(client, "/v1/settings/diner")
    counts = demo_setting_counts()
    assert diner["broader"] == ["restaurant"]
    assert diner["norm_count"] == counts["diner"]
    assert diner["inherited_norm_count"] == counts["restaurant"]
    assert isinstance(diner["attributes"], dict)


def test_setting_names_with_spaces_work(client: TestClient) -> None:
    data = _get(client, "/v1/settings/library reading room")
    assert data["name"] == "library reading room"
    assert data["broader"] == ["library"]


def test_an_unknown_setting_is_404(client: TestClient) -> None:
    err = assert_error(client.get("/v1/settings/moon base"), 404, "not_found")
    assert "moon base" in err["message"]


def test_bad_page_parameters_are_422(client: TestClient) -> None:
    assert_error(client.get("/v1/settings", params={"limit": 0}), 422, "validation_error")
    assert_error(client.get("/v1/settings", params={"limit": 10000}), 422)
    assert_error(client.get("/v1/settings", params={"limit": "many"}), 422, "validation_error")
    assert_error(client.get("/v1/settings", params={"cursor": "not a cursor!"}), 422, "invalid_input")
