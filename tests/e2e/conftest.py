"""Headless Chromium for end-to-end tests: Debian's ``chromium`` driven by Playwright (``playwright install``
cannot download browsers here). Screenshots go to ``NORMGRAPH_TEST_ARTIFACTS`` (default ``test-artifacts/``)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.conftest import REPO

CHROMIUM = os.environ.get("NORMGRAPH_TEST_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="session")
def artifacts() -> Path:
    out = Path(os.environ.get("NORMGRAPH_TEST_ARTIFACTS", REPO / "test-artifacts"))
    out.mkdir(parents=True, exist_ok=True)
    return out


# Package scope, not session: Playwright's sync API keeps an asyncio loop running on the main thread while it is
# open, and tests after this package that call asyncio.run() (the MCP and LangChain ones) would fail under it.
@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install '.[dev]')")
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        # CI installs it (.ci/run); anywhere else say what is missing rather than fail obscurely.
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium (or set NORMGRAPH_TEST_CHROMIUM)")
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()
