"""The retrieval index beside the store: FAISS vectors, a BM25 lexical index and the id map, in
``<home>/index/``.

    build(store, home)   create or bring up to date (incremental; compacts when tombstones pile up)
    status(home)         what is there, without the store
    verify(store, home)  drift between the store and the index
    BankIndex.open(home) the index opened for searching

The errors live here (importing them loads neither faiss nor bm25s) so that the API and CLI can map them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from normgraph.errors import IndexMissing, IndexOutOfDate

__all__ = [
    "IndexMissing",
    "IndexOutOfDate",
    "index_dir",
    "BankIndex",
    "BuildReport",
    "IndexStatus",
    "VerifyReport",
    "build",
    "status",
    "verify",
]

FIX = "run `normgraph index build`"


def index_dir(home: Path) -> Path:
    return Path(home) / "index"


_LAZY = {
    "BankIndex": "normgraph.index.bank",
    "BuildReport": "normgraph.index.maintenance",
    "IndexStatus": "normgraph.index.maintenance",
    "VerifyReport": "normgraph.index.maintenance",
    "build": "normgraph.index.maintenance",
    "status": "normgraph.index.maintenance",
    "verify": "normgraph.index.maintenance",
}


def __getattr__(name: str) -> Any:
    # faiss and bm25s load only when something that needs them is used.
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(name)
