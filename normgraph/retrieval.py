"""Hybrid retrieval: free text in, the most relevant statements of the bank out.

1. The query is embedded (cached per query text) and searched in the FAISS index; the same text is searched
   in the BM25 index. Both searches see the same *filter mask*: setting and its broader settings, kinds,
   sources, labels, country, review state (default: approved and trusted).
2. The two rankings are fused by reciprocal rank fusion, ``sum_i w_i / (rrf_k + rank_i)``: ranks, not scores,
   because cosine similarities and BM25 scores live on unrelated scales. ``rrf_k`` and the weights were tuned
   on Social-Chem-101's dev split (bench/retrieval_quality.py, docs/decisions/0004-retrieval.md).
3. With a setting and facts, norms are re-ranked by frame resolution (DESIGN §3): applicable norms a little
   up, conditional ones a little down, defeated and violated ones well down.
4. Results are read back from the store. A result the store no longer has, or whose text differs from what
   was embedded, means the index is out of date: that is an error naming the fix, never a quietly wrong
   answer.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from normgraph.embed.base import DEFAULT_MODEL, Embedder
from normgraph.embed.batching import QueryBatcher
from normgraph.embed.cache import text_hash
from normgraph.errors import InvalidInput, NormgraphError, NotFound
from normgraph.frames.grammar import coerce_constraints
from normgraph.frames.logic import FactSet, Truth
from normgraph.frames.resolve import resolve_behavior
from normgraph.ids import normalise_text
from normgraph.index import FIX, IndexOutOfDate
from normgraph.models import AnyStatement, ConceptScheme, Constraint, Kind, Label, Norm, ReviewState
from normgraph.store.base import ANSWERING_STATES, GraphStore

log = logging.getLogger(__name__)

if TYPE_CHECKING:  # faiss loads only when an index is opened
    from normgraph.index.bank import BankIndex

Mode = Literal["hybrid", "dense", "lexical"]
MAX_K = 100
MAX_QUERY_CHARS = 2000
# Tuned on a dev split of Social-Chem-101 (bench/retrieval_quality.py): the textbook k=60, 1:1 only ties dense
# there; a small k (the top ranks dominate) and dense weighted 2.5:1 beat both rankings on the held-out split.
DEFAULT_RRF_K = 10
DEFAULT_DENSE_WEIGHT = 2.5
DEFAULT_LEXICAL_WEIGHT = 1.0
# How deep each ranking is read before fusing; past ~100 a document contributes < 1/160 and never lifts.
FUSION_DEPTH = 100
_QUERY_CACHE = 2048
# Re-ranking factors by resolution status, multiplied into the fused score. Relevance stays first: a larger
# boost for applicable norms let applicable but unrelated norms ("smoking indoors is unexpected") crowd out
# the relevant ones on the demo bank; the demotions are what matters (defeated and violated norms sink).
RESOLUTION_FACTOR = {"applicable": 1.2, "conditional": 0.8, "defeated": 0.4, "violated": 0.2}
_GENERATION_CHECK_SECONDS = 2.0


class RetrievalFilters(BaseModel):
    """Graph filters; every given one must hold. Unknown fields are an error, not ignored."""

    model_config = ConfigDict(extra="forbid")

    setting: str | None = Field(None, description="statements of this setting or any broader one (by name or alias)")
    include_broader: bool = Field(True, description="with `setting`: also the settings it falls under")
    kinds: list[Kind] | None = None
    sources: list[str] | None = Field(None, description="source dataset names, e.g. normbank, social-chem-101")
    labels: list[Label] | None = None
    country: str | None = None
    review_states: list[ReviewState] | None = Field(None, description="default: approved and trusted")


class RetrievalHit(BaseModel):
    id: str
    kind: Kind
    text: str
    score: float = Field(description="fused score (hybrid), cosine similarity (dense) or BM25 score (lexical)")
    setting: str | None
    label: Label | None
    source: str
    country: str | None = None
    behavior: str | None = None
    review_state: ReviewState
    dense_rank: int | None = Field(None, description="1-based rank in the vector search, if it was there")
    lexical_rank: int | None = Field(None, description="1-based rank in the BM25 search, if it was there")
    resolution: str | None = Field(None, description="with setting and facts: applicable, conditional, defeated or violated")


class RetrievalResult(BaseModel):
    query: str
    mode: Mode
    model: str
    results: list[RetrievalHit]


def check_query(query: object, k: object) -> tuple[str, int]:
    if not isinstance(query, str) or not query.strip():
        raise InvalidInput("query must be a non-empty string", {"query": query if isinstance(query, str) else None})
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidInput(
            f"query is {len(query)} characters long; at most {MAX_QUERY_CHARS} are accepted",
            {"length": len(query), "max": MAX_QUERY_CHARS},
        )
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise InvalidInput(f"k must be an integer between 1 and {MAX_K}, not {k!r}", {"k": k, "min": 1, "max": MAX_K})
    return " ".join(query.split()), k


def coerce_filters(filters: RetrievalFilters | dict[str, Any] | None) -> RetrievalFilters:
    if filters is None:
        return RetrievalFilters()
    if isinstance(filters, RetrievalFilters):
        return filters
    try:
        return RetrievalFilters.model_validate(filters)
    except ValidationError as e:
        problems = [{"field": ".".join(str(x) for x in err["loc"]), "problem": err["msg"]} for err in e.errors()]
        names = ", ".join(p["field"] for p in problems)
        raise InvalidInput(f"invalid filters ({names}); known filters: {', '.join(RetrievalFilters.model_fields)}", problems) from None


class Retriever:
    """Search one bank. Thread-safe for searching; open with ``Retriever.open``."""

    def __init__(
        self,
        store: GraphStore,
        index: "BankIndex",
        embedder: Embedder,
        *,
        home: Path | None = None,
        rrf_k: int = DEFAULT_RRF_K,
        dense_weight: float = DEFAULT_DENSE_WEIGHT,
        lexical_weight: float = DEFAULT_LEXICAL_WEIGHT,
        ef_search: int | None = None,
    ) -> None:
        if index.model_id != embedder.model_id:
            raise IndexOutOfDate(
                f"the index was built with model {index.model_id!r} but the configured model is "
                f"{embedder.model_id!r}: {FIX}",
                {"index_model": index.model_id, "model": embedder.model_id, "fix": FIX},
            )
        self.store = store
        self.index = index
        self.embedder = embedder
        self.home = home
        self.rrf_k = rrf_k
        self.dense_weight = dense_weight
        self.lexical_weight = lexical_weight
        self.ef_search = ef_search
        # Query vectors skip the on-disk cache (a write per unique query would cost more than it saves) and
        # are encoded in micro-batches with concurrent queries; repeated queries hit an in-memory LRU.
        self._batcher = QueryBatcher(getattr(embedder, "inner", embedder))
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._checked_at = time.monotonic()

    @classmethod
    def open(
        cls,
        store: GraphStore,
        home: Path,
        *,
        embedder: Embedder | None = None,
        model: str | None = None,
        check_store: bool = True,
        **options: Any,
    ) -> "Retriever":
        """Open the index at ``<home>/index`` (``IndexMissing`` if there is none). With ``check_store``, a
        store whose statement count differs from the index's raises ``IndexOutOfDate``.

        Without ``embedder``, ``model`` (default: the tuned all-MiniLM-L6-v2, ``DEFAULT_MODEL``) is loaded on ``backend`` (default ONNX
        Runtime fp32); pass ``threads=1`` in server workers (one encoder thread per worker: concurrent queries
        are batched instead). Other options go to
        the constructor (``rrf_k``, ``dense_weight``, ``lexical_weight``, ``ef_search``)."""
        from normgraph.index.bank import BankIndex

        threads = options.pop("threads", None)
        backend = options.pop("backend", None)
        index = BankIndex.open(home)
        try:
            if check_store:
                stored = store.stats().statements
                if stored != index.live_count:
                    raise IndexOutOfDate(
                        f"the index holds {index.live_count} statements but the store has {stored}: {FIX}",
                        {"indexed": index.live_count, "stored": stored, "fix": FIX},
                    )
            if embedder is None:
                from normgraph.embed import DEFAULT_BACKEND, open_cached_embedder

                embedder = open_cached_embedder(home, model or DEFAULT_MODEL, backend=backend or DEFAULT_BACKEND, threads=threads)
            return cls(store, index, embedder, home=home, **options)
        except BaseException:
            index.close()
            raise

    def close(self) -> None:
        self.index.close()

    # --- the query ------------------------------------------------------------------------------------------
    def retrieve(
        self,
        query: str,
        k: int = 10,
        filters: RetrievalFilters | dict[str, Any] | None = None,
        *,
        mode: Mode = "hybrid",
        facts: Sequence[str | dict | Constraint] | str | None = None,
    ) -> RetrievalResult:
        query, k = check_query(query, k)
        if mode not in ("hybrid", "dense", "lexical"):
            raise InvalidInput(f"unknown mode {mode!r}; use hybrid, dense or lexical", {"mode": mode})
        f = coerce_filters(filters)
        constraints = coerce_constraints(facts) if facts else ()
        if constraints and not f.setting:
            raise InvalidInput("facts re-rank by frame resolution, which needs a setting filter", {"facts": facts})
        self._maybe_reload()
        index = self.index
        chain = self._setting_chain(f.setting, f.include_broader) if f.setting else None
        mask, count = index.allowed(
            kind=[x.value for x in f.kinds] if f.kinds else None,
            setting=chain,
            label=[x.value for x in f.labels] if f.labels else None,
            source=list(f.sources) if f.sources else None,
            country=[normalise_text(f.country)] if f.country else None,
            review_state=[x.value for x in (f.review_states or ANSWERING_STATES)],
        )
        depth = max(FUSION_DEPTH, 3 * k) if (mode == "hybrid" or constraints) else k
        dense: list[tuple[int, float]] = []
        lexical: list[tuple[int, float]] = []
        if mode in ("hybrid", "dense"):
            dense = index.dense(self.query_vector(query), depth, mask, count, self.ef_search)
        if mode in ("hybrid", "lexical"):
            lexical = index.lexical_search(query, depth, mask, count)

        dense_rank = {p: i + 1 for i, (p, _) in enumerate(dense)}
        lexical_rank = {p: i + 1 for i, (p, _) in enumerate(lexical)}
        if mode == "hybrid":
            fused: dict[int, float] = defaultdict(float)
            for p, r in dense_rank.items():
                fused[p] += self.dense_weight / (self.rrf_k + r)
            for p, r in lexical_rank.items():
                fused[p] += self.lexical_weight / (self.rrf_k + r)
            ranked = sorted(fused.items(), key=lambda x: (-x[1], x[0]))
        else:
            ranked = dense if mode == "dense" else lexical

        candidates = ranked[: max(depth, k)] if constraints else ranked[:k]
        statements = self._hydrate([p for p, _ in candidates])
        hits = [
            _hit(statements[p], s, dense_rank.get(p), lexical_rank.get(p)) for p, s in candidates
        ]
        if constraints:
            hits = self._rerank(hits, statements, [p for p, _ in candidates], chain or [], constraints)
        return RetrievalResult(query=query, mode=mode, model=self.embedder.model_id, results=hits[:k])

    def query_vector(self, query: str) -> np.ndarray:
        with self._lock:
            hit = self._queries.get(query)
            if hit is not None:
                self._queries.move_to_end(query)
                return hit
        vec = self._batcher.encode_one(query)
        with self._lock:
            self._queries[query] = vec
            if len(self._queries) > _QUERY_CACHE:
                self._queries.popitem(last=False)
        return vec

    def vectors_for(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Embeddings of indexed statements (for near-duplicate removal), by id."""
        wanted = [(sid, p) for sid in ids if (p := self.index.position_of(sid)) is not None]
        if not wanted:
            return {}
        vecs = self.index.vectors_at([p for _, p in wanted])
        return {sid: vecs[i] for i, (sid, _) in enumerate(wanted)}

    # --- internals ------------------------------------------------------------------------------------------
    def _setting_chain(self, setting: str, include_broader: bool) -> list[str]:
        concept = self.store.find_concept(ConceptScheme.setting, setting) if setting.strip() else None
        if concept is None:
            label = normalise_text(setting)
            if self.index.has_value("setting", label):
                return [label]
            raise NotFound(f"unknown setting {setting!r}: see GET /v1/settings for the settings in this bank", {"setting": setting})
        ids = self.store.broader_closure(concept.id) if include_broader else [concept.id]
        labels: list[str] = []
        for cid in ids:
            c = self.store.get_concept(cid)
            if c is not None:
                labels.extend(normalise_text(x) for x in (c.label, *c.alt_labels))
        return list(dict.fromkeys(labels))

    def _hydrate(self, positions: Sequence[int]) -> dict[int, AnyStatement]:
        rows = self.index.idmap.rows_at(positions)
        out: dict[int, AnyStatement] = {}
        stale: list[str] = []
        for p in positions:
            sid, th = rows[p]
            s = self.store.get_statement(sid)
            if s is None or text_hash(s.text).hex() != th:
                stale.append(sid)
            else:
                out[p] = s
        if stale:
            raise IndexOutOfDate(
                f"the index is out of date: {len(stale)} result(s) were deleted or changed in the store "
                f"({', '.join(stale[:5])}): {FIX}",
                {"ids": stale, "fix": FIX},
            )
        return out

    def _rerank(
        self,
        hits: list[RetrievalHit],
        statements: dict[int, AnyStatement],
        positions: list[int],
        chain: list[str],
        constraints: tuple[Constraint, ...],
    ) -> list[RetrievalHit]:
        facts = FactSet(constraints, strict=True)
        depth = {label: i for i, label in enumerate(chain)}
        status: dict[str, str] = {}
        by_behavior: dict[str, list[Norm]] = defaultdict(list)
        for p in positions:
            s = statements[p]
            if isinstance(s, Norm):
                if any(facts.truth(c) is Truth.violated for c in s.constraints):
                    status[s.id] = "violated"
                else:
                    by_behavior[normalise_text(s.behavior or "")].append(s)
        for behavior, norms in by_behavior.items():
            result = resolve_behavior(behavior, norms, facts, depth)
            status.update({n.id: "applicable" for n in result.norms})
            status.update({n.id: "defeated" for n in result.defeated})
            status.update({n.id: "conditional" for n in result.conditional})
        reranked = []
        for h in hits:
            st = status.get(h.id)
            factor = RESOLUTION_FACTOR.get(st, 1.0) if st else 1.0
            reranked.append(h.model_copy(update={"resolution": st, "score": h.score * factor}))
        reranked.sort(key=lambda h: -h.score)
        return reranked

    def _maybe_reload(self) -> None:
        """Pick up an index rebuilt by another process (``normgraph index build`` while serving)."""
        if self.home is None or time.monotonic() - self._checked_at < _GENERATION_CHECK_SECONDS:
            return
        self._checked_at = time.monotonic()
        on_disk = self.index.generation_on_disk()
        if on_disk is None or on_disk == self.index.generation:
            return
        from normgraph.index.bank import BankIndex

        try:
            fresh = BankIndex.open(self.home)
        except NormgraphError as e:
            # Keep answering from the consistent old generation, but say so: the operator must know answers are stale.
            log.warning("index generation %s on disk cannot be opened (%s); still answering from generation %s", on_disk, e, self.index.generation)
            return
        if fresh.model_id != self.embedder.model_id:
            log.warning(
                "index generation %s on disk was built with model %s, this process encodes with %s; still answering "
                "from generation %s until restarted with that model",
                on_disk, fresh.model_id, self.embedder.model_id, self.index.generation,
            )
            fresh.close()
            return
        # The old generation is not closed here: a concurrent search may still be using it; it is released
        # when the last reference goes.
        self.index = fresh


def _hit(s: AnyStatement, score: float, dense_rank: int | None, lexical_rank: int | None) -> RetrievalHit:
    return RetrievalHit(
        id=s.id,
        kind=s.kind,
        text=s.text,
        score=round(float(score), 6),
        setting=s.setting,
        label=getattr(s, "label", None),
        source=s.provenance.source,
        country=s.country,
        behavior=s.behavior,
        review_state=s.review_state,
        dense_rank=dense_rank,
        lexical_rank=lexical_rank,
    )


