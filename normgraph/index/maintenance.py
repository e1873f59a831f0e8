"""Building and checking the retrieval index: what ``normgraph index build|status|verify`` call.

``build`` is incremental. It reads every statement of the store once, compares it with the id map, and
- appends new statements (embedding only texts the cache has never seen),
- tombstones deleted statements and the old position of statements whose text changed (and appends the new),
- updates the filter columns of statements whose review state, setting, label … changed (no re-embedding),
then compacts — renumbers the live rows into a fresh vector index from the cache — when tombstones exceed
``compact_ratio`` of the rows, when the model or the index kind changes, or when asked (``rebuild``). The new
vector and lexical files are written under a new generation and switched to in one SQLite commit.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, Literal

import numpy as np
from pydantic import BaseModel, Field

from normgraph.embed.base import Embedder
from normgraph.embed.cache import CachedEmbedder, EmbeddingCache
from normgraph.errors import InvalidInput, StoreLocked
from normgraph.index import FIX, IndexMissing, index_dir
from normgraph.index.bank import META_FILE, lexical_dir, vectors_file
from normgraph.index.faiss_index import INDEX_KINDS, FaissVectors, choose_kind, set_threads
from normgraph.index.idmap import FORMAT_VERSION, IdMap, Meta
from normgraph.index.lexical import LexicalIndex
from normgraph.store.base import GraphStore

log = logging.getLogger(__name__)

KindChoice = Literal["auto", "flat", "hnsw", "ivf"]
DEFAULT_COMPACT_RATIO = 0.25


class BuildReport(BaseModel):
    added: int = Field(description="statements newly indexed")
    text_changed: int = Field(description="statements whose text changed (old position tombstoned, new added)")
    metadata_changed: int = Field(description="statements whose filter fields changed (no re-embedding)")
    removed: int = Field(description="statements gone from the store, tombstoned")
    unchanged: int
    encoded: int = Field(description="texts run through the model (the rest came from the embedding cache)")
    cache_hits: int
    compacted: bool
    kind: str
    model_id: str
    live: int
    tombstones: int
    seconds: float


class IndexStatus(BaseModel):
    exists: bool
    path: str
    model_id: str | None = None
    kind: str | None = None
    dim: int | None = None
    live: int = 0
    tombstones: int = 0
    generation: int | None = None
    built_at: str | None = None
    store_statements: int | None = Field(None, description="statements in the store when the index was built")
    size_bytes: int = 0


class VerifyReport(BaseModel):
    ok: bool
    checked: int = Field(description="statements in the store")
    indexed: int = Field(description="live rows in the index")
    missing: list[str] = Field(description="in the store, not in the index")
    stale: list[str] = Field(description="in the index, no longer in the store")
    text_changed: list[str] = Field(description="text in the store differs from what was embedded")
    metadata_changed: list[str] = Field(description="filter fields (review state, setting, label …) differ")
    model_mismatch: str | None = Field(None, description="set when the index was built with another model than the configured one")
    fix: str | None = None

    def summary(self, limit: int = 5) -> str:
        if self.ok:
            return f"index matches the store ({self.indexed} statements)"
        parts = []
        for name in ("missing", "stale", "text_changed", "metadata_changed"):
            ids = getattr(self, name)
            if ids:
                more = f" …(+{len(ids) - limit})" if len(ids) > limit else ""
                parts.append(f"{len(ids)} {name.replace('_', ' ')} ({', '.join(ids[:limit])}{more})")
        if self.model_mismatch:
            parts.append(self.model_mismatch)
        return "index out of date: " + "; ".join(parts) + f": {FIX}"


@contextmanager
def _build_lock(directory: Path) -> Iterator[None]:
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".build.lock", "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StoreLocked(f"another process is building the index at {directory}", {"path": str(directory)}) from None
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _dir_size(directory: Path) -> int:
    return sum(f.stat().st_size for f in directory.rglob("*") if f.is_file())


def status(home: Path) -> IndexStatus:
    directory = index_dir(home)
    meta = directory / META_FILE
    if not meta.is_file():
        return IndexStatus(exists=False, path=str(directory))
    idmap = IdMap(meta)
    try:
        info = idmap.info()
        live, total = idmap.counts()
    finally:
        idmap.close()
    return IndexStatus(
        exists=True,
        path=str(directory),
        model_id=info.get("model_id"),
        kind=info.get("kind"),
        dim=int(info["dim"]) if "dim" in info else None,
        live=int(live),
        tombstones=int(total) - int(live),
        generation=int(info["generation"]) if "generation" in info else None,
        built_at=info.get("built_at"),
        store_statements=int(info["store_statements"]) if "store_statements" in info else None,
        size_bytes=_dir_size(directory),
    )


def verify(store: GraphStore, home: Path, model_id: str | None = None) -> VerifyReport:
    """Compare every statement of the store with the index (ids, text hashes, filter fields)."""
    directory = index_dir(home)
    meta = directory / META_FILE
    if not meta.is_file():
        raise IndexMissing(f"no retrieval index at {directory}: {FIX}", {"path": str(directory), "fix": FIX})
    idmap = IdMap(meta)
    try:
        indexed = idmap.live_items()
        info = idmap.info()
    finally:
        idmap.close()
    missing: list[str] = []
    changed: list[str] = []
    meta_changed: list[str] = []
    seen: set[str] = set()
    checked = 0
    for s in store.iter_statements():
        checked += 1
        seen.add(s.id)
        m = Meta.of(s)
        hit = indexed.get(s.id)
        if hit is None:
            missing.append(s.id)
        elif hit[1].text_hash != m.text_hash:
            changed.append(s.id)
        elif hit[1].filter_fields() != m.filter_fields():
            meta_changed.append(s.id)
    stale = sorted(set(indexed) - seen)
    mismatch = None
    if model_id is not None and info.get("model_id") != model_id:
        mismatch = f"index built with model {info.get('model_id')!r}, configured model is {model_id!r}"
    ok = not (missing or stale or changed or meta_changed or mismatch)
    return VerifyReport(
        ok=ok,
        checked=checked,
        indexed=len(indexed),
        missing=missing,
        stale=stale,
        text_changed=changed,
        metadata_changed=meta_changed,
        model_mismatch=mismatch,
        fix=None if ok else FIX,
    )


def build(
    store: GraphStore,
    home: Path,
    embedder: Embedder,
    *,
    cache: EmbeddingCache | None = None,
    kind: KindChoice = "auto",
    rebuild: bool = False,
    compact_ratio: float = DEFAULT_COMPACT_RATIO,
    progress: bool = False,
) -> BuildReport:
    """Create or update the index at ``<home>/index`` from ``store``. ``embedder`` should be a
    ``CachedEmbedder`` (or pass ``cache``) so unchanged texts are never re-encoded."""
    if kind != "auto" and kind not in INDEX_KINDS:
        raise InvalidInput(f"unknown index kind {kind!r}; use auto or one of {', '.join(INDEX_KINDS)}", {"kind": kind})
    started = time.perf_counter()
    if cache is not None and not isinstance(embedder, CachedEmbedder):
        embedder = CachedEmbedder(embedder, cache)
    encoded0 = getattr(embedder, "encoded", 0)
    hits0 = getattr(embedder, "hits", 0)
    directory = index_dir(home)
    with _build_lock(directory):
        idmap = IdMap(directory / META_FILE, create=True)
        threads = set_threads(os.cpu_count() or 1)
        try:
            return _build_locked(store, directory, idmap, embedder, kind, rebuild, compact_ratio, progress, started, encoded0, hits0)
        finally:
            set_threads(threads)
            idmap.close()


def _build_locked(
    store: GraphStore,
    directory: Path,
    idmap: IdMap,
    embedder: Embedder,
    kind_choice: KindChoice,
    rebuild: bool,
    compact_ratio: float,
    progress: bool,
    started: float,
    encoded0: int,
    hits0: int,
) -> BuildReport:
    info = idmap.info()
    old_generation = int(info["generation"]) if "generation" in info else None
    if old_generation is not None:
        # Files of any other generation are what a killed build left (a committed one switches the id map);
        # free that disk before writing a new generation beside them.
        _remove_other_generations(directory, old_generation)
    indexed = idmap.live_items() if old_generation is not None else {}
    if old_generation is not None and (info.get("format") != FORMAT_VERSION or info.get("model_id") != embedder.model_id):
        rebuild = True  # another vector space: nothing old can be reused

    current: dict[str, Meta] = {}
    for s in store.iter_statements():
        current[s.id] = Meta.of(s)

    tombstone: list[int] = []
    update_meta: list[tuple[int, Meta]] = []
    to_add: list[Meta] = []
    added = text_changed = meta_changed = unchanged = 0
    for sid, m in current.items():
        hit = indexed.get(sid)
        if hit is None:
            to_add.append(m)
            added += 1
        elif hit[1].text_hash != m.text_hash:
            tombstone.append(hit[0])
            to_add.append(m)
            text_changed += 1
        elif hit[1].filter_fields() != m.filter_fields():
            update_meta.append((hit[0], m))
            meta_changed += 1
        else:
            unchanged += 1
    removed_ids = [sid for sid in indexed if sid not in current]
    tombstone.extend(indexed[sid][0] for sid in removed_ids)

    old_total = int(info.get("ntotal", 0)) if old_generation is not None else 0
    old_dead = old_total - len(indexed)
    live_after = len(current)
    kind = choose_kind(live_after) if kind_choice == "auto" else kind_choice
    if old_generation is not None and info.get("kind") != kind:
        rebuild = True
    dead_after = old_dead + len(tombstone)
    total_after = old_total + len(to_add)
    compact = rebuild or old_generation is None or (total_after and dead_after / total_after > compact_ratio)
    nothing_changed = not (to_add or tombstone or update_meta)
    if nothing_changed and not compact:
        return _report(
            added, text_changed, meta_changed, len(removed_ids), unchanged, embedder, encoded0, hits0, False, kind,
            live_after, old_dead, started,
        )

    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(current) if compact else len(to_add), desc="embedding", unit="text")

    generation = (old_generation or 0) + 1
    texts_for_lexical: list[str]
    if compact:
        ordered = [current[sid] for sid in sorted(current)]
        vecs = _encode(embedder, [m.text for m in ordered], bar)
        vectors = FaissVectors.create(embedder.dim, kind, training=vecs if kind == "ivf" else None)
        vectors.add(vecs)
        rows = list(enumerate(ordered))
        texts_for_lexical = [m.text for m in ordered]
    else:
        vecs = _encode(embedder, [m.text for m in to_add], bar)
        vectors = FaissVectors.load(vectors_file(directory, old_generation), kind, mmap=False)  # type: ignore[arg-type]
        start = vectors.ntotal
        vectors.add(vecs)
        rows = [(start + i, m) for i, m in enumerate(to_add)]
        texts_for_lexical = idmap.texts()
        dead = set(tombstone)
        texts_for_lexical = ["" if p in dead else t for p, t in enumerate(texts_for_lexical)]
        texts_for_lexical.extend(m.text for m in to_add)
    if bar is not None:
        bar.close()

    vectors.save(vectors_file(directory, generation))
    lexical = LexicalIndex.build(texts_for_lexical)
    lex_dir = lexical_dir(directory, generation)
    if lex_dir.exists():
        shutil.rmtree(lex_dir)
    lexical.save(lex_dir)

    ntotal = vectors.ntotal
    new_info = {
        "format": FORMAT_VERSION,
        "generation": str(generation),
        "model_id": embedder.model_id,
        "dim": str(embedder.dim),
        "kind": kind,
        "ntotal": str(ntotal),
        "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "store_statements": str(len(current)),
    }
    if compact:
        idmap.commit_build(info=new_info, replace_all=rows)
    else:
        idmap.commit_build(info=new_info, tombstone=tombstone, update_meta=update_meta, append=rows)
    _remove_other_generations(directory, generation)
    tombstones = 0 if compact else dead_after
    return _report(
        added, text_changed, meta_changed, len(removed_ids), unchanged, embedder, encoded0, hits0, bool(compact), kind,
        live_after, tombstones, started,
    )


def _encode(embedder: Embedder, texts: list[str], bar) -> np.ndarray:
    if isinstance(embedder, CachedEmbedder):
        return embedder.encode(texts, progress=bar.update if bar is not None else None)
    vecs = embedder.encode(texts)
    if bar is not None:
        bar.update(len(texts))
    return vecs


def _remove_other_generations(directory: Path, keep: int) -> None:
    # Readers that still have an old generation memory-mapped keep their pages (unlinking does not unmap).
    removed = 0
    for f in directory.glob("vectors-*.faiss"):
        if f.name != vectors_file(directory, keep).name:
            removed += f.stat().st_size if f.exists() else 0
            f.unlink(missing_ok=True)
    for d in directory.glob("lexical-*"):
        if d.is_dir() and d.name != lexical_dir(directory, keep).name:
            removed += _dir_size(d)
            shutil.rmtree(d, ignore_errors=True)
    if removed:
        log.info("removed %s bytes of index files other than generation %s in %s", f"{removed:,}", keep, directory)


def _report(
    added: int, text_changed: int, meta_changed: int, removed: int, unchanged: int, embedder: Embedder,
    encoded0: int, hits0: int, compacted: bool, kind: str, live: int, tombstones: int, started: float,
) -> BuildReport:
    return BuildReport(
        added=added,
        text_changed=text_changed,
        metadata_changed=meta_changed,
        removed=removed,
        unchanged=unchanged,
        encoded=getattr(embedder, "encoded", 0) - encoded0,
        cache_hits=getattr(embedder, "hits", 0) - hits0,
        compacted=compacted,
        kind=kind,
        model_id=embedder.model_id,
        live=live,
        tombstones=tombstones,
        seconds=round(time.perf_counter() - started, 3),
    )
