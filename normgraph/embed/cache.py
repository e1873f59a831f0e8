"""On-disk embedding cache: one SQLite table of float32 blobs keyed by (model id, text hash).

Re-ingesting a file or rebuilding an index re-encodes nothing that was encoded before with the same model:
encoding is by far the slowest step (hundreds of sentences a second on two cores), a lookup is microseconds.
SQLite because it is in the standard library, transactional, safe with several processes (WAL) and needs no
compaction story of its own; a 155k-sentence bank is ~240 MB of vectors.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from normgraph.embed.base import Embedder

_SCHEMA = """
CREATE TABLE IF NOT EXISTS vectors (
    model TEXT NOT NULL,
    hash  BLOB NOT NULL,
    vec   BLOB NOT NULL,
    PRIMARY KEY (model, hash)
) WITHOUT ROWID
"""
_CHUNK = 500  # SQLite's default limit on bound parameters is 999 (older builds) or 32766


def text_hash(text: str) -> bytes:
    """16 bytes of SHA-256 of the exact text: any change to the text is a different embedding."""
    return hashlib.sha256(text.encode("utf-8")).digest()[:16]


class EmbeddingCache:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=60)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(_SCHEMA)
        self._db.commit()

    def get_many(self, model_id: str, hashes: Sequence[bytes], dim: int) -> dict[bytes, np.ndarray]:
        found: dict[bytes, np.ndarray] = {}
        unique = list(dict.fromkeys(hashes))
        with self._lock:
            for i in range(0, len(unique), _CHUNK):
                part = unique[i : i + _CHUNK]
                rows = self._db.execute(
                    f"SELECT hash, vec FROM vectors WHERE model = ? AND hash IN ({','.join('?' * len(part))})",
                    (model_id, *part),
                ).fetchall()
                for h, blob in rows:
                    vec = np.frombuffer(blob, dtype=np.float32)
                    if vec.shape[0] == dim:  # a blob of another width is a corrupt row: re-encode it
                        found[h] = vec
        return found

    def put_many(self, model_id: str, items: Iterable[tuple[bytes, np.ndarray]]) -> None:
        rows = [(model_id, h, np.ascontiguousarray(v, dtype=np.float32).tobytes()) for h, v in items]
        if not rows:
            return
        with self._lock:
            self._db.executemany("INSERT OR REPLACE INTO vectors (model, hash, vec) VALUES (?, ?, ?)", rows)
            self._db.commit()

    def count(self, model_id: str | None = None) -> int:
        with self._lock:
            if model_id is None:
                return int(self._db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0])
            return int(self._db.execute("SELECT COUNT(*) FROM vectors WHERE model = ?", (model_id,)).fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()


class CachedEmbedder:
    """An ``Embedder`` that asks the cache first and encodes only the misses, longest-first in chunks (so the
    model pads little and progress can be reported).

    ``encoded`` and ``hits`` count texts since construction: a rebuild that encodes nothing shows
    ``encoded == 0``.
    """

    def __init__(self, embedder: Embedder, cache: EmbeddingCache, *, chunk: int = 1024) -> None:
        self.inner = embedder
        self.cache = cache
        self.chunk = chunk
        self.encoded = 0
        self.hits = 0

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    @property
    def dim(self) -> int:
        return self.inner.dim

    def encode(self, texts: Sequence[str], progress=None) -> np.ndarray:
        """``progress``: optional callable taking the number of texts just encoded (e.g. a tqdm's update)."""
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        hashes = [text_hash(t) for t in texts]
        cached = self.cache.get_many(self.model_id, hashes, self.dim)
        missing: dict[bytes, str] = {}
        for h, t in zip(hashes, texts, strict=True):
            if h not in cached and h not in missing:
                missing[h] = t
        self.hits += len(texts) - sum(1 for h in hashes if h not in cached)
        if missing:
            order = sorted(missing.items(), key=lambda kv: -len(kv[1]))
            for i in range(0, len(order), self.chunk):
                part = order[i : i + self.chunk]
                vecs = self.inner.encode([t for _, t in part])
                self.cache.put_many(self.model_id, zip((h for h, _ in part), vecs, strict=True))
                for (h, _), v in zip(part, vecs, strict=True):
                    cached[h] = v
                self.encoded += len(part)
                if progress is not None:
                    progress(len(part))
        for i, h in enumerate(hashes):
            out[i] = cached[h]
        return out
