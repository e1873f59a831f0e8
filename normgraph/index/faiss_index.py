"""Dense vectors on FAISS: the only module that imports faiss.

Vectors are addressed by *position* (0..ntotal-1, in insertion order); the id map (``normgraph.index.idmap``)
turns positions into statement ids and knows which positions are tombstoned. Inner product on L2-normalised
vectors, i.e. cosine similarity.

Kinds (docs/decisions/0004-retrieval.md):
- ``flat``: exact; the choice for small banks (below ``FLAT_MAX``), where a scan costs well under a millisecond;
- ``hnsw``: HNSW over flat storage, M=32, ``ef_search`` tunable; the default for everything else;
- ``ivf``: IVF-Flat, for banks too big to hold in memory: FAISS can memory-map its inverted lists.

Filters and tombstones are a bitmap of allowed positions handed to FAISS as an ``IDSelectorBitmap``. When few
positions are allowed, HNSW's graph walk cannot find k of them reliably, so the search goes exact over the
flat storage instead (a bitmap test per vector, an inner product per allowed one).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import faiss
import numpy as np

from normgraph.errors import InvalidInput

IndexKind = Literal["flat", "hnsw", "ivf"]
INDEX_KINDS: tuple[str, ...] = ("flat", "hnsw", "ivf")
# At 12k statements a flat scan (k=100) took 1.0 ms against HNSW's ~0.15 ms, with HNSW's recall@10 against
# exact 0.994 (Social-Chem-101 situations over its rules of thumb), and it decided ~10 % of a retrieval's CPU.
FLAT_MAX = 5_000
IVF_MIN = 2_000_000
HNSW_M = 32
# Measured at 155k (bench/index_search.py): efConstruction 200 costs ~3x the build time of 80 (77 s vs 25 s)
# but reaches recall@10 0.98 at half the efSearch; efSearch 128 is the smallest with recall@10 >= 0.98
# (0.9825, p99 0.83-0.88 ms); 192 buys ~0.99 for ~1.5x the latency.
HNSW_EF_CONSTRUCTION = 200
DEFAULT_EF_SEARCH = 128
# Up to this many allowed vectors a filtered search is exact (cheaper than a graph walk that mostly skips).
EXACT_MAX_ALLOWED = 5_000
# Searches of up to this many queries run on the calling thread alone (see set_threads).
_SINGLE_THREAD_QUERIES = 4


def set_threads(n: int) -> int:
    """Set FAISS's OpenMP threads; returns the previous number. Searches are one query at a time, where
    OpenMP's fork/join costs more than it saves (a 10k flat search: 0.55 ms on one thread, 6-8 ms on two when
    the other core is busy), so an index opened for searching runs single-threaded; builds use every core."""
    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(max(1, n))
    return previous


def choose_kind(n: int) -> IndexKind:
    if n < FLAT_MAX:
        return "flat"
    if n < IVF_MIN:
        return "hnsw"
    return "ivf"


def _ivf_nlist(n: int) -> int:
    return int(max(16, min(65536, 4 * np.sqrt(max(n, 1)))))


class FaissVectors:
    def __init__(self, index: "faiss.Index", kind: IndexKind) -> None:
        self.index = index
        self.kind = kind
        self.ef_search = DEFAULT_EF_SEARCH
        self.nprobe = 16

    # --- construction ---------------------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        dim: int,
        kind: IndexKind,
        *,
        training: np.ndarray | None = None,
        m: int = HNSW_M,
        ef_construction: int | None = None,
    ) -> "FaissVectors":
        if kind == "flat":
            index = faiss.IndexFlatIP(dim)
        elif kind == "hnsw":
            index = faiss.IndexHNSWFlat(dim, m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = ef_construction or HNSW_EF_CONSTRUCTION
        elif kind == "ivf":
            if training is None or len(training) == 0:
                raise InvalidInput("an IVF index needs training vectors")
            nlist = min(_ivf_nlist(len(training)), len(training))
            quantizer = faiss.IndexFlatIP(dim)
            index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
            index.train(np.ascontiguousarray(training, dtype=np.float32))
            # Exact fallbacks reconstruct by position; IVF needs its direct map for that.
            index.make_direct_map()
        else:
            raise InvalidInput(f"unknown index kind {kind!r}; use one of {', '.join(INDEX_KINDS)}", {"kind": kind})
        return cls(index, kind)

    @classmethod
    def load(cls, path: Path, kind: IndexKind, *, mmap: bool) -> "FaissVectors":
        flags = 0
        if mmap:
            # IO_FLAG_MMAP maps only IVF inverted lists; Flat and HNSW storage map with IO_FLAG_MMAP_IFC.
            flags = faiss.IO_FLAG_MMAP if kind == "ivf" else faiss.IO_FLAG_MMAP_IFC
        return cls(faiss.read_index(str(path), flags), kind)

    def save(self, path: Path) -> None:
        """Write atomically: a reader never sees half a file."""
        tmp = path.with_name(path.name + ".tmp")
        faiss.write_index(self.index, str(tmp))
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)

    # --- contents -------------------------------------------------------------------------------------------
    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    @property
    def dim(self) -> int:
        return int(self.index.d)

    def add(self, vectors: np.ndarray) -> None:
        if len(vectors):
            self.index.add(np.ascontiguousarray(vectors, dtype=np.float32))

    def reconstruct(self, positions: np.ndarray) -> np.ndarray:
        positions = np.ascontiguousarray(positions, dtype=np.int64)
        if len(positions) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.index.reconstruct_batch(positions)

    # --- search ---------------------------------------------------------------------------------------------
    def search(
        self,
        queries: np.ndarray,
        k: int,
        allowed: np.ndarray | None = None,
        allowed_count: int | None = None,
        ef_search: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k ``(scores, positions)`` per query; ``allowed`` is a bool mask over positions (None = all).

        Positions are -1 where fewer than k vectors are allowed."""
        q = np.ascontiguousarray(queries, dtype=np.float32)
        if q.ndim == 1:
            q = q[None, :]
        n = self.ntotal
        k = max(1, min(k, n)) if n else 1
        if n == 0:
            return np.full((len(q), k), -np.inf, dtype=np.float32), np.full((len(q), k), -1, dtype=np.int64)
        ef = max(ef_search or self.ef_search, k)
        if len(q) <= _SINGLE_THREAD_QUERIES and faiss.omp_get_max_threads() != 1:
            # OpenMP's thread count is per calling thread: a server's request threads start at one thread per
            # core whatever the opening thread set, and a 12k flat search then took 1.5 ms instead of 0.8.
            faiss.omp_set_num_threads(1)
        if allowed is None:
            return self.index.search(q, k, params=self._params(None, ef, exhaustive=False))
        count = int(allowed_count if allowed_count is not None else allowed.sum())
        if count == 0:
            return np.full((len(q), k), -np.inf, dtype=np.float32), np.full((len(q), k), -1, dtype=np.int64)
        bits = np.packbits(allowed[:n].astype(np.uint8, copy=False), bitorder="little")
        sel = faiss.IDSelectorBitmap(n, faiss.swig_ptr(bits))
        exact = count <= EXACT_MAX_ALLOWED
        if exact and self.kind == "hnsw":
            storage = faiss.downcast_index(self.index.storage)
            return storage.search(q, k, params=faiss.SearchParameters(sel=sel))
        if self.kind == "hnsw":
            # The walk skips disallowed nodes; widen it as the allowed share shrinks (by the square root:
            # linear widening doubled p99 at 10 % allowed for no measurable recall).
            ef = int(min(2048, ef * max(1.0, (n / count) ** 0.5)))
        return self.index.search(q, k, params=self._params(sel, ef, exhaustive=exact))

    def _params(self, sel: faiss.IDSelector | None, ef: int, *, exhaustive: bool) -> faiss.SearchParameters | None:
        if self.kind == "hnsw":
            return faiss.SearchParametersHNSW(sel=sel, efSearch=ef) if sel is not None else faiss.SearchParametersHNSW(efSearch=ef)
        if self.kind == "ivf":
            nprobe = self.index.nlist if exhaustive else self.nprobe
            return faiss.SearchParametersIVF(sel=sel, nprobe=nprobe) if sel is not None else faiss.SearchParametersIVF(nprobe=nprobe)
        return faiss.SearchParameters(sel=sel) if sel is not None else None
