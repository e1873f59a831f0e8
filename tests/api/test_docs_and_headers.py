"""`/docs` loads nothing from outside this server, and every response carries the security headers."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.api.demo_facts import assert_error


def test_the_docs_page_loads_its_assets_from_this_server(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources, page.text
    assert all(s.startswith("/") for s in sources), f"assets from elsewhere: {sources}"
    for src in sources:
        asset = client.get(src)
        assert asset.status_code == 200, src
        assert len(asset.content) > 100, src
    assert "openapi.json" in page.text
    assert client.get("/openapi.json").json()["info"]["title"] == "normgraph"


def test_redoc_from_a_cdn_is_gone(client: TestClient) -> None:
    assert_error(client.get("/redoc"), 404, "not_found")


def test_api_responses_carry_security_headers(client: TestClient) -> None:
    for resp in (client.get("/healthz"), client.get("/v1/norms/nope"), client.post("/v1/norms/query", content=b"x" * 2_000_000)):
        assert resp.headers["x-content-type-options"] == "nosniff"
        assert resp.headers["x-frame-options"] == "DENY"
        assert resp.headers["content-security-policy"].startswith("default-src 'none'")
        assert resp.headers["referrer-policy"] == "no-referrer"


def test_the_docs_page_may_run_only_its_own_scripts(client: TestClient) -> None:
    csp = client.get("/docs").headers["content-security-policy"]
    assert "script-src 'self' 'unsafe-inline'" in csp
    assert "http" not in csp  # no third-party origin is allowed


def _integer_branch(prop: dict) -> dict:
    return next((b for b in prop.get("anyOf", []) if b.get("type") == "integer"), prop)


def test_the_schema_states_the_configured_page_limit(client: TestClient, app_settings) -> None:
    schema = client.get("/openapi.json").json()
    body_limit = _integer_branch(schema["components"]["schemas"]["QueryRequest"]["properties"]["limit"])
    assert body_limit["maximum"] == app_settings.max_page_limit
    query_limits = [
        _integer_branch(p["schema"])
        for ops in schema["paths"].values() for op in ops.values()
        for p in op.get("parameters", []) if p["name"] == "limit"
    ]
    assert query_limits and all(q["maximum"] == app_settings.max_page_limit for q in query_limits)
    # and the server agrees with its schema at the edge
    ok = client.post("/v1/norms/query", json={"setting": "restaurant", "limit": app_settings.max_page_limit})
    assert ok.status_code == 200
    over = client.post("/v1/norms/query", json={"setting": "restaurant", "limit": app_settings.max_page_limit + 1})
    assert_error(over, 422)


def test_a_smaller_configured_limit_is_what_the_schema_says(app_settings) -> None:
    from api.app import create_app

    small = app_settings.model_copy(update={"max_page_limit": 40, "read_only": True})
    with TestClient(create_app(small)) as c:
        schema = c.get("/openapi.json").json()
        assert _integer_branch(schema["components"]["schemas"]["QueryRequest"]["properties"]["limit"])["maximum"] == 40
        assert_error(c.post("/v1/norms/query", json={"setting": "restaurant", "limit": 41}), 422)
