"""The judge as the service offers it: one ``JudgeService`` per ``NormBankService`` (``service.judge``), on the
process's one embedding model and retriever (never a second copy of the encoder), with the heads loaded once.

A request's input is checked first (422: blank or over-long text, bad constraints), then the stages run in
order of authority (``normgraph.judge.stages``) until one decides; every stage leaves a line in the trace,
deciding or not. Only a missing embedding model or judge model is fatal (503); a missing retrieval index
only makes the retrieval stage give way.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import numpy as np
from pydantic import ValidationError

from normgraph.errors import InvalidInput, NormgraphError, NotFound
from normgraph.frames.grammar import coerce_constraints
from normgraph.ids import normalise_text
from normgraph.judge import stages as S
from normgraph.judge.model import JudgeModel, JudgeModelUnavailable
from normgraph.judge.schemas import (
    MAX_BATCH,
    Evidence,
    JudgeBatchResult,
    JudgeRequest,
    JudgeResult,
    Scores,
    StageName,
    StageTrace,
)
from normgraph.models import Constraint, Kind, Subject

if TYPE_CHECKING:
    from normgraph.embed.base import Embedder
    from normgraph.embed.batching import QueryBatcher
    from normgraph.retrieval import Retriever
    from normgraph.services import NormBankService

RETRIEVAL_K = 8
_VECTOR_CACHE = 4096


def as_request(item: JudgeRequest | dict[str, Any]) -> JudgeRequest:
    if isinstance(item, JudgeRequest):
        return item
    try:
        return JudgeRequest.model_validate(item)
    except ValidationError as e:
        problems = [{"field": ".".join(str(x) for x in err["loc"]), "problem": err["msg"]} for err in e.errors()]
        first = problems[0]
        raise InvalidInput(f"invalid judge request: {first['field']}: {first['problem']}", problems) from None


def _model_name(model_id: str) -> str:
    return model_id.split("@", 1)[0]


class JudgeService:
    """Thread-safe. ``model_path`` (default: the ``judge_model`` setting, else the weights in the package)."""

    def __init__(self, bank: "NormBankService", model_path: str | Path | None = None) -> None:
        self.bank = bank
        self.settings = bank.settings
        self.model_path = model_path if model_path is not None else self.settings.judge_model
        self._lock = threading.Lock()
        self._model: JudgeModel | None = None
        self._batcher: QueryBatcher | None = None
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()

    # --- the model and the encoder ------------------------------------------------------------------------
    def model(self) -> JudgeModel:
        with self._lock:
            if self._model is None:
                self._model = JudgeModel.load(self.model_path)
            return self._model

    def embedder(self) -> "Embedder":
        model = self.bank.retrieval.model()  # the process's one encoder (retrieval's)
        judge = self.model()
        if _model_name(model.model_id) != _model_name(judge.embedding_model) or model.dim != judge.card.get("embedding_dim", model.dim):
            raise JudgeModelUnavailable(
                f"the judge model at {judge.path} was trained over {judge.embedding_model} vectors, but the "
                f"configured embedding model is {model.model_id}: use a judge trained over it "
                "(`normgraph train judge`, then NORMGRAPH_JUDGE_MODEL) or the default embedding model",
                {"judge_embedding_model": judge.embedding_model, "embedding_model": model.model_id},
            )
        return model

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors of ``texts``, each encoded alone (int8 vectors move with their batch-mates, and the
        same question must always get the same answer), through a small in-process cache."""
        from normgraph.embed.batching import QueryBatcher

        embedder = self.embedder()
        out = []
        for t in texts:
            key = " ".join(t.split())
            with self._lock:
                v = self._vectors.get(key)
                if v is not None:
                    self._vectors.move_to_end(key)
                if self._batcher is None:
                    self._batcher = QueryBatcher(embedder)
                batcher = self._batcher
            if v is None:
                v = batcher.encode_one(key)
                with self._lock:
                    self._vectors[key] = v
                    if len(self._vectors) > _VECTOR_CACHE:
                        self._vectors.popitem(last=False)
            out.append(v)
        return np.stack(out).astype(np.float32) if out else np.zeros((0, embedder.dim), np.float32)

    def _retriever(self) -> tuple["Retriever | None", str | None]:
        try:
            return self.bank.retrieval.retriever(), None
        except NormgraphError as e:  # no index, or one out of date: the stage gives way and says why
            return None, f"{e.code}: {e.message}"

    # --- judging ------------------------------------------------------------------------------------------
    def judge(self, item: JudgeRequest | dict[str, Any], *, stages: Iterable[StageName] = S.STAGES) -> JudgeResult:
        """Judge one behaviour. ``stages`` restricts the stages that may decide (for evaluation: the model
        prior alone, retrieval alone); the model prior always decides when nothing before it did."""
        req = as_request(item)
        facts = self._facts(req)
        model = self.model()
        wanted = set(stages)
        behavior = " ".join(req.behavior.split())
        trace: list[StageTrace] = []
        evidence: list[Evidence] = []
        vec = self._encode([behavior])[0]
        prior = model.prior(vec)[0]
        retrieved: dict[str, Any] = {}

        def decide(stage: StageName, d: S.Decision) -> JudgeResult:
            trace.append(StageTrace(stage=stage, outcome="decided", reason=d.reason))
            for later in S.STAGES[S.STAGES.index(stage) + 1 :]:
                trace.append(StageTrace(stage=later, outcome="skipped", reason=f"{stage} decided"))
            scores = S.normalised(d.scores)
            return JudgeResult(
                behavior=behavior,
                label=S.top_label(scores),
                scores=Scores(**{label.value: round(float(scores[i]), 4) for i, label in enumerate(S.LABELS)}),
                method=stage,
                evidence=d.evidence + evidence,
                conflicts=d.conflicts,
                trace=trace,
                model=f"{model.name}@{self.embedder().model_id}",
            )

        def gave_way(stage: StageName, outcome: S.GaveWay | str) -> None:
            if isinstance(outcome, str):
                trace.append(StageTrace(stage=stage, outcome="skipped", reason=outcome))
                return
            trace.append(StageTrace(stage=stage, outcome="gave_way", reason=outcome.reason))
            evidence.extend(outcome.evidence)

        # 1. the caller's norms
        if "supplied_norms" not in wanted:
            gave_way("supplied_norms", "not asked for")
        elif not req.norms:
            gave_way("supplied_norms", "no norms supplied")
        else:
            out = S.supplied_norms(req.norms, vec, self._encode, model, prior)
            if isinstance(out, S.Decision):
                return decide("supplied_norms", out)
            gave_way("supplied_norms", out)

        # 2. frame resolution over the bank
        if "frame_resolution" not in wanted:
            gave_way("frame_resolution", "not asked for")
        elif not req.setting:
            gave_way("frame_resolution", "no setting given" + (" (facts need one)" if facts else ""))
        else:
            out2 = self._frames(req, behavior, facts, vec, prior, model, retrieved)
            if isinstance(out2, S.Decision):
                return decide("frame_resolution", out2)
            gave_way("frame_resolution", out2)

        # 3. retrieved neighbours
        if "retrieval" not in wanted:
            gave_way("retrieval", "not asked for")
        else:
            found = self._neighbours(req, behavior, facts, vec, retrieved)
            if isinstance(found, str):
                gave_way("retrieval", S.GaveWay(found))
            else:
                country = normalise_text(req.country) if req.country else None
                out3 = S.neighbours(found, model.neighbour_threshold, prior, country)
                if isinstance(out3, S.Decision):
                    return decide("retrieval", out3)
                gave_way("retrieval", out3)

        # 4. the model prior
        return decide("model_prior", S.model_prior(prior, behavior, model.name))

    def judge_batch(self, items: Sequence[JudgeRequest | dict[str, Any]], *, stages: Iterable[StageName] = S.STAGES) -> JudgeBatchResult:
        if not 1 <= len(items) <= MAX_BATCH:
            raise InvalidInput(f"a batch holds 1 to {MAX_BATCH} items, not {len(items)}", {"items": len(items), "max": MAX_BATCH})
        requests = [as_request(x) for x in items]  # every item is checked before any is judged
        for r in requests:
            self._facts(r)
        return JudgeBatchResult(results=[self.judge(r, stages=stages) for r in requests])

    def judge_json(self, item: JudgeRequest | dict[str, Any]) -> bytes:
        result = self.judge(item)
        return result.__pydantic_serializer__.to_json(result)

    def judge_batch_json(self, items: Sequence[JudgeRequest | dict[str, Any]]) -> bytes:
        result = self.judge_batch(items)
        return result.__pydantic_serializer__.to_json(result)

    # --- internals ----------------------------------------------------------------------------------------
    def _facts(self, req: JudgeRequest) -> tuple[Constraint, ...]:
        facts = coerce_constraints(req.facts) if req.facts else ()
        if req.country and not any(c.attribute == "country" for c in facts):
            facts = (*facts, Constraint(subject=Subject.environment, attribute="country", value=normalise_text(req.country)))
        return facts

    def _retrieve(self, req: JudgeRequest, behavior: str, facts: tuple[Constraint, ...], memo: dict[str, Any]) -> Any:
        """The bank's nearest labelled statements for the behaviour (within the setting when the bank knows
        it), once per request; a string says why there are none."""
        if "result" in memo:
            return memo["result"]
        retriever, why = self._retriever()
        if retriever is None:
            memo["result"] = f"no retrieval ({why})"
            return memo["result"]
        filters: dict[str, Any] = {"kinds": [Kind.norm.value, Kind.rule_of_thumb.value]}
        query = behavior
        if req.setting:
            filters["setting"] = req.setting
        try:
            result = retriever.retrieve(query, RETRIEVAL_K, filters, facts=facts if (facts and req.setting) else None)
        except NotFound:  # a setting the bank does not know: search everywhere, with the setting in the words
            filters.pop("setting")
            query = f"{behavior} ({req.setting})"
            result = retriever.retrieve(query[:2000], RETRIEVAL_K, filters)
        hits = [h for h in result.results if h.label is not None and h.resolution not in ("violated", "defeated")]
        vecs = retriever.vectors_for([h.id for h in hits])
        qv = retriever.query_vector(" ".join(query.split())) if query != behavior else None
        memo["result"] = (hits, vecs, qv)
        return memo["result"]

    def _neighbours(self, req, behavior, facts, vec, memo) -> "list[S.Neighbour] | str":
        got = self._retrieve(req, behavior, facts, memo)
        if isinstance(got, str):
            return got
        hits, vecs, _ = got
        return [
            S.Neighbour(id=h.id, text=h.text, label=h.label, source=h.source, similarity=float(vecs[h.id] @ vec),
                        score=h.score, country=h.country)
            for h in hits
            if h.id in vecs
        ]

    def _frames(self, req, behavior, facts, vec, prior, model: JudgeModel, memo) -> "S.Outcome":
        try:
            result = self.bank.query(req.setting, behavior, facts, limit=1)
        except NotFound:
            return S.GaveWay(f"the bank has no setting {req.setting!r}")
        r = result.results[0] if result.results else None
        if r is not None and r.label is not None:
            return S.from_resolution(r, prior, r.behavior)
        # A free-text behaviour: the behaviour of the most similar norm of this setting, if it is close enough.
        found = self._neighbours(req, behavior, facts, vec, memo)
        if isinstance(found, str):
            return S.GaveWay(f"no norm of the bank about '{behavior}' in {req.setting}, and {found}")
        got = self._retrieve(req, behavior, facts, memo)
        by_id = {h.id: h for h in got[0]}
        close = sorted(
            (n for n in found if n.similarity >= model.neighbour_threshold and by_id[n.id].behavior and by_id[n.id].kind == Kind.norm),
            key=lambda n: -n.similarity,
        )
        setting_chain = set(result.setting_chain)
        for n in close:
            h = by_id[n.id]
            if normalise_text(h.setting or "") not in setting_chain:
                continue
            r2 = self.bank.query(req.setting, h.behavior, facts, limit=1)
            if r2.results and r2.results[0].label is not None:
                out = S.from_resolution(r2.results[0], prior, h.behavior)
                if isinstance(out, S.Decision):
                    out.reason += f"; '{behavior}' read as '{h.behavior}' (similarity {n.similarity:.2f} to {h.id})"
                return out
        return S.GaveWay(f"no norm of the bank about '{behavior}' in {result.setting}, nor a behaviour of it similar enough")
