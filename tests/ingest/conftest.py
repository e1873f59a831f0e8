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


def shared_file(shared_data: Path, relative: str) -> Path:
    """A file under ../shared/data, or a clean skip naming it."""
    path = shared_data / relative
    if not path.is_file():
        pytest.skip(f"{path} not found (public data sets are read from ../shared/data)")
    return path


def rejects_of(summary) -> list[dict]:
    """The rejects file of an ingest, parsed."""
    import json

    assert summary.rejects_path, "expected a rejects file"
    return [json.loads(line) for line in Path(summary.rejects_path).read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def open_store_at():
    """Open more real stores (at given paths) in one test; all are closed afterwards."""
    opened = []

    def open_(path: Path, read_only: bool = False):
        s = open_store("oxigraph", path, read_only=read_only)
        opened.append(s)
        return s

    yield open_
    for s in reversed(opened):
        s.close()
