"""A real store on disk loaded with the demo bank, and the real app in-process (FastAPI's TestClient)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from normgraph.services import NormBankService
from normgraph.settings import Settings
from tests.api.demo_facts import load_demo_home


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return load_demo_home(tmp_path_factory.mktemp("demo-home"))


@pytest.fixture(scope="session")
def app_settings(demo_home: Path) -> Settings:
    return Settings(home=demo_home)


@pytest.fixture(scope="session")
def client(app_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(app_settings)) as c:
        yield c


@pytest.fixture(scope="session")
def service(client: TestClient) -> NormBankService:
    """The app's own service (the store is locked by it, so tests read through the same one)."""
    return client.app.state.service  # type: ignore[attr-defined]
