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
