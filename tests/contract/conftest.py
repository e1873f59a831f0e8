"""The store contract suite runs once per registered store backend.

Each backend needs an opener here that gives a fresh, empty store for one test (and the same store again,
e.g. read-only, for reopen tests). A registered backend without an opener is reported as skipped, so a new
backend cannot silently go untested.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import pytest

from normgraph.store import GraphStore, available_backends, open_store

Opener = Callable[..., GraphStore]


def _oxigraph(tmp_path: Path) -> Opener:
    def open_(read_only: bool = False) -> GraphStore:
        return open_store("oxigraph", tmp_path / "store", read_only=read_only)

    return open_


OPENERS: dict[str, Callable[[Path], Opener]] = {"oxigraph": _oxigraph}


@pytest.fixture(params=available_backends())
def backend(request: pytest.FixtureRequest) -> str:
    if request.param not in OPENERS:
        pytest.skip(f"store backend {request.param!r} has no opener in tests/contract/conftest.py")
    return request.param


@pytest.fixture
def open_backend(backend: str, tmp_path: Path) -> Iterator[Opener]:
    """``open_backend(read_only=False)`` opens the test's store; every store opened is closed afterwards."""
    opened: list[GraphStore] = []
    make = OPENERS[backend](tmp_path)

    def open_(read_only: bool = False) -> GraphStore:
        s = make(read_only=read_only)
        opened.append(s)
        return s

    yield open_
    for s in reversed(opened):
        s.close()


@pytest.fixture
def store(open_backend: Opener) -> GraphStore:
    return open_backend()
