from __future__ import annotations

from pathlib import Path

import pytest

from normgraph.store import open_store

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "ingest"


@pytest.fixture
def store(tmp_path: Path):
    """A real Oxigraph store on disk, closed after the test."""
    s = open_store("oxigraph", tmp_path / "store")
    yield s
    s.close()


@pytest.fixture
def sample_csv(shared_data: Path) -> Path:
    path = shared_data / "normbank-format-sample.csv"
    if not path.is_file():
        pytest.skip(f"{path} not found (the NormBank format sample lives in ../shared/data)")
    return path
