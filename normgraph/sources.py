"""Ingest sources as the core sees them: a protocol and discovery through the ``normgraph.sources``
entry-point group. The readers themselves live in the ``ingest`` package (which the core never imports);
third parties register their own readers under the same group."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path
from typing import Protocol, runtime_checkable

from pydantic import BaseModel

from normgraph.store.base import GraphStore

ENTRY_POINT_GROUP = "normgraph.sources"


class IngestSummary(BaseModel):
    source: str
    path: str
    read: int = 0
    loaded: int = 0
    duplicates: int = 0
    updated: int = 0
    rejected: int = 0
    concepts: int = 0
    rejects_path: str | None = None
    seconds: float = 0.0


@runtime_checkable
class Source(Protocol):
    name: str
    description: str
    columns: tuple[str, ...]

    def load(
        self,
        path: Path,
        store: GraphStore,
        *,
        rejects_path: Path | None = None,
        progress: bool = True,
        batch_size: int = 5000,
    ) -> IngestSummary:
        """Stream ``path`` into ``store``: validate each row, write rejects (file, line, reason) and go on."""


def available_sources() -> dict[str, Source]:
    found: dict[str, Source] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        obj = ep.load()
        found[ep.name] = obj() if isinstance(obj, type) else obj
    return dict(sorted(found.items()))
