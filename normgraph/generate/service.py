"""The generator as a ``NormBankService`` offers it (``service.generator``): checks a request, opens what it
needs in order — the retrieval index (503 ``index_missing`` …), then the backend (503
``generator_unavailable``) — runs the pipeline and, for proposals, writes them to the bank as ``proposed`` and
brings the retrieval index up to date (it must hold every stored statement, or retrieval answers 503).

A bad request never waits for a model: the setting, behaviour, facts and decoding parameters are checked
first.
"""

from __future__ import annotations

import secrets
import threading
from typing import TYPE_CHECKING, Any, Sequence

from pydantic import ValidationError

from normgraph.errors import InvalidInput
from normgraph.generate.answer import ANSWER_DECODING, AnswerResult, Judge, answer_question
from normgraph.generate.backends import GeneratorBackend, shared_backend
from normgraph.generate.backends.base import MAX_SEED, DecodingParams
from normgraph.generate.dedup import DEFAULT_THRESHOLD
from normgraph.generate.generate import DEFAULT_N, GENERATE_DECODING, GenerateResult, check_request, propose

if TYPE_CHECKING:
    from normgraph.services import NormBankService


def decoding(base: DecodingParams, **given: Any) -> DecodingParams:
    """``base`` with the caller's values on top; a missing seed is drawn at random, and recorded."""
    values = {k: v for k, v in given.items() if v is not None}
    values.setdefault("seed", secrets.randbelow(MAX_SEED))
    try:
        return DecodingParams.model_validate({**base.model_dump(), **values})
    except ValidationError as e:
        problems = [{"field": ".".join(str(x) for x in err["loc"]), "problem": err["msg"]} for err in e.errors()]
        raise InvalidInput(f"invalid decoding parameters ({', '.join(p['field'] for p in problems)})", problems) from None


class GeneratorService:
    def __init__(self, owner: "NormBankService") -> None:
        self.owner = owner
        self.judge: Judge | None = None  # the seam for normgraph.judge: (question, context) -> verdict
        self._write_lock = threading.Lock()

    def backend(self) -> GeneratorBackend:
        return shared_backend(self.owner.settings)

    def generate(
        self,
        setting: str,
        behavior: str | None = None,
        facts: Sequence[Any] | str | None = (),
        n: int = DEFAULT_N,
        *,
        seed: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        max_new_tokens: int | None = None,
        store: bool = True,
        threshold: float = DEFAULT_THRESHOLD,
    ) -> GenerateResult:
        req = check_request(self.owner.store, setting, behavior, facts, n)
        params = decoding(GENERATE_DECODING, seed=seed, temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens)
        if not 0.5 <= threshold <= 1.0:
            raise InvalidInput(f"threshold must be between 0.5 and 1, not {threshold!r}", {"threshold": threshold})
        if store:
            self.owner._writable()
        retriever = self.owner.retrieval.retriever()
        result = propose(self.owner.store, retriever, self.backend(), req, params, threshold=threshold)
        if store and result.proposals:
            with self._write_lock:
                self.owner.store.upsert_statements(p.norm for p in result.proposals)
                self.owner.refresh()
                # Retrieval refuses to answer from an index that holds fewer statements than the store.
                self.owner.retrieval.build_if_needed(True)
            for p in result.proposals:
                p.stored = True
            result.stored = len(result.proposals)
        return result

    def answer(
        self,
        question: str,
        setting: str | None = None,
        facts: Sequence[Any] | str | None = None,
        k: int = 6,
        max_tokens: int | None = None,
        *,
        seed: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        max_new_tokens: int | None = None,
        judge: Judge | None = None,
    ) -> AnswerResult:
        params = decoding(ANSWER_DECODING, seed=seed, temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens)
        context = self.owner.prompt(question, k, "markdown", max_tokens, {"setting": setting} if setting else None, facts)
        return answer_question(self.backend(), " ".join(question.split()), context, params, judge=judge or self.judge)
