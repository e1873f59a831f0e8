"""The interactive API docs render in a real browser from this server alone: Swagger UI's local assets load
under the page's Content-Security-Policy, every endpoint is listed, and nothing is fetched from elsewhere."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from tests.api.demo_facts import load_demo_home
from tests.live_server import uvicorn

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with uvicorn(load_demo_home(tmp_path_factory.mktemp("docs-home"))) as base:
        yield base


def test_swagger_ui_lists_every_endpoint_without_leaving_the_server(server: str, browser: Any, artifacts: Path) -> None:
    page = browser.new_page()
    hosts: set[str] = set()
    problems: list[str] = []
    page.on("request", lambda r: hosts.add(urlparse(r.url).netloc))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(server + "/docs")
    page.wait_for_selector(".opblock", timeout=30_000)
    paths = set(page.locator(".opblock-summary-path").all_inner_texts())
    page.screenshot(path=str(artifacts / "docs.png"), full_page=False)
    page.close()
    for expected in ("/v1/norms/query", "/v1/norms/{statement_id}", "/v1/settings", "/v1/retrieve", "/v1/prompt", "/healthz"):
        assert any(p.replace("\u200b", "") == expected for p in paths), (expected, paths)
    assert hosts == {urlparse(server).netloc}, hosts
    assert not [p for p in problems if "Content Security Policy" in p or "Refused" in p], problems
