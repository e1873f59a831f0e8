"""The retrieval index opened for searching: vectors (memory-mapped), the lexical index, and the filter
columns held in memory as integer codes so a filter is a few vectorised comparisons.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from normgraph.index import FIX, IndexMissing, IndexOutOfDate, index_dir
from normgraph.index.faiss_index import FaissVectors, set_threads
from normgraph.index.idmap import FILTER_COLUMNS, FORMAT_VERSION, IdMap
from normgraph.index.lexical import LexicalIndex

log = logging.getLogger(__name__)

META_FILE = "meta.sqlite"
_MASK_CACHE = 256


def vectors_file(directory: Path, generation: int) -> Path:
    return directory / f"vectors-{generation}.faiss"


def lexical_dir(directory: Path, generation: int) -> Path:
    return directory / f"lexical-{generation}"


class _Column:
    """One filter column as integer codes; ``codes_for`` maps wanted values to codes (unknown values match
    nothing)."""

    def __init__(self, values: list[str]) -> None:
        self.vocab: dict[str, int] = {}
        codes = np.empty(len(values), dtype=np.int32)
        for i, v in enumerate(values):
            codes[i] = self.vocab.setdefault(v, len(self.vocab))
        self.codes = codes

    def mask(self, wanted: Iterable[str]) -> np.ndarray:
        wanted_codes = [self.vocab[w] for w in wanted if w in self.vocab]
        if not wanted_codes:
            return np.zeros(len(self.codes), dtype=bool)
        return np.isin(self.codes, np.asarray(wanted_codes, dtype=np.int32))


class BankIndex:
    def __init__(self, directory: Path, idmap: IdMap, info: dict[str, str], vectors: FaissVectors, lexical: LexicalIndex) -> None:
        self.directory = directory
        self.idmap = idmap
        self.info = info
        self.vectors = vectors
        self.lexical = lexical
        self.generation = int(info["generation"])
        self.model_id = info["model_id"]
        self.kind = info["kind"]
        n, live, ids, cols = idmap.columns()
        if n != vectors.ntotal or n != lexical.n:
            raise IndexOutOfDate(
                f"the index at {directory} is inconsistent ({n} rows, {vectors.ntotal} vectors, {lexical.n} lexical "
                f"documents); {FIX} --rebuild",
                {"path": str(directory)},
            )
        self.n = n
        self.live = live
        self.live_count = int(live.sum())
        self.ids = ids
        self._columns = {name: _Column(values) for name, values in cols.items()}
        self._positions: dict[str, int] | None = None
        self._masks: OrderedDict[tuple, tuple[np.ndarray, int]] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def open(cls, home: Path, *, mmap: bool = True) -> "BankIndex":
        directory = index_dir(home)
        meta = directory / META_FILE
        if not meta.is_file():
            raise IndexMissing(f"no retrieval index at {directory}: {FIX}", {"path": str(directory), "fix": FIX})
        idmap = IdMap(meta)
        info = idmap.info()
        if info.get("format") != FORMAT_VERSION or "generation" not in info:
            idmap.close()
            raise IndexOutOfDate(
                f"the index at {directory} has format {info.get('format')!r}, this version reads {FORMAT_VERSION!r}: "
                f"{FIX} --rebuild",
                {"path": str(directory), "fix": FIX + " --rebuild"},
            )
        generation = int(info["generation"])
        set_threads(1)
        try:
            vectors = FaissVectors.load(vectors_file(directory, generation), info["kind"], mmap=mmap)  # type: ignore[arg-type]
            lexical = LexicalIndex.load(lexical_dir(directory, generation), mmap=mmap)
        except (RuntimeError, OSError, ValueError) as e:
            idmap.close()
            raise IndexOutOfDate(
                f"the index files at {directory} cannot be read ({e}): {FIX} --rebuild",
                {"path": str(directory), "fix": FIX + " --rebuild"},
            ) from None
        return cls(directory, idmap, info, vectors, lexical)

    def close(self) -> None:
        self.idmap.close()

    def generation_on_disk(self) -> int | None:
        """The generation a fresh open would see (another process may have rebuilt the index)."""
        try:
            return int(self.idmap.info().get("generation", -1))
        except Exception:  # noqa: BLE001 - any failure to read means "unknown"; logged, the caller keeps its generation
            log.warning("cannot read the index generation at %s; answering from generation %s", self.directory, self.generation, exc_info=True)
            return None

    @property
    def dead_count(self) -> int:
        return self.n - self.live_count

    # --- filters --------------------------------------------------------------------------------------------
    def has_value(self, column: str, value: str) -> bool:
        return value in self._columns[column].vocab

    def allowed(self, **wanted: Sequence[str] | None) -> tuple[np.ndarray, int]:
        """The mask of live positions whose column values are among the wanted ones (None = any), and its
        count. Keys are ``FILTER_COLUMNS``."""
        key = tuple((name, tuple(sorted(w)) if (w := wanted.get(name)) is not None else None) for name in FILTER_COLUMNS)
        with self._lock:
            hit = self._masks.get(key)
            if hit is not None:
                self._masks.move_to_end(key)
                return hit
        mask = self.live.copy()
        for name, values in wanted.items():
            if name not in self._columns:
                raise KeyError(name)
            if values is not None:
                mask &= self._columns[name].mask(values)
        result = (mask, int(mask.sum()))
        with self._lock:
            self._masks[key] = result
            if len(self._masks) > _MASK_CACHE:
                self._masks.popitem(last=False)
        return result

    def position_of(self, statement_id: str) -> int | None:
        """The live position of a statement id (the map is built on first use)."""
        if self._positions is None:
            self._positions = {sid: p for p, sid in enumerate(self.ids) if self.live[p]}
        return self._positions.get(statement_id)

    # --- search ---------------------------------------------------------------------------------------------
    def dense(self, query_vec: np.ndarray, k: int, mask: np.ndarray, count: int, ef_search: int | None = None) -> list[tuple[int, float]]:
        if count == 0:
            return []
        # Without a filter and without tombstones FAISS needs no selector (the fastest path).
        unfiltered = count == self.n
        scores, positions = self.vectors.search(
            query_vec, min(k, count), None if unfiltered else mask, count, ef_search=ef_search
        )
        return [(int(p), float(s)) for p, s in zip(positions[0], scores[0], strict=True) if p >= 0]

    def lexical_search(self, query: str, k: int, mask: np.ndarray, count: int) -> list[tuple[int, float]]:
        if count == 0:
            return []
        scores, positions = self.lexical.search(query, k, None if count == self.n else mask)
        return [(int(p), float(s)) for p, s in zip(positions, scores, strict=True)]

    def vectors_at(self, positions: Sequence[int]) -> np.ndarray:
        return self.vectors.reconstruct(np.asarray(positions, dtype=np.int64))
