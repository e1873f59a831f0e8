"""Answer a context-conditioned question from the bank: the retrieved prompt block (normgraph/prompting.py)
is the only evidence the model is given, and its citations are checked against that block.

- every id the answer cites must be one of the context's citations; an id that is not (invented, or
  mangled) is removed from the text and reported in ``invented_ids``;
- every sentence without a valid citation is reported in ``uncited`` (a claim the bank does not back);
- ``grounded`` is true when the answer cites something and every sentence carries a citation.

A judgment question ("is it okay to …?") will also carry the judge's label: ``answer_question`` takes an
optional ``judge`` callable (question, context) -> anything JSON-serialisable, whose result goes into
``judgment``. The judge is built elsewhere (normgraph/judge/); nothing here depends on it.
"""

from __future__ import annotations

import re
import time
from typing import Any, Callable, Collection

from pydantic import BaseModel, Field

from normgraph.generate.backends.base import DecodingParams, GeneratorBackend
from normgraph.generate.prompts import ANSWER_TEMPLATE, answer_messages
from normgraph.prompting import Citation, PromptResult

Judge = Callable[[str, PromptResult], Any]
ANSWER_DECODING = DecodingParams(max_new_tokens=120, temperature=0.3, top_p=0.9)

# A citation as models write them: [n-0123456789abcdef], [n-…, rot-…], or a bare id. Statement ids are a kind
# prefix and 16 hex digits (normgraph.ids.statement_id); a shorter or longer run after a known prefix is an id
# the model mangled or made up, and is caught too.
_BRACKETED = re.compile(r"\[([^\[\]\n]{1,200})\]")
_ID_LIKE = re.compile(r"^[a-z]{1,4}-[0-9a-z]{3,40}$")
_BARE_ID = re.compile(r"(?<![\w\[-])(?:n|rot|v|r|d)-[0-9a-f]{6,24}(?![\w-])")
_SENTENCE_END = re.compile(r"([.!?](?:\s*\[[^\[\]\n]*\])*)\s+")


class CitationCheck(BaseModel):
    text: str = Field(description="the answer with invented ids removed")
    cited: list[str] = Field(description="ids cited that are in the context, in order of first citation")
    invented: list[str] = Field(description="ids cited that are not in the context (removed from `text`)")
    uncited: list[str] = Field(description="sentences that cite nothing from the context")


def check_citations(text: str, allowed: Collection[str]) -> CitationCheck:
    allowed = set(allowed)
    cited: list[str] = []
    invented: list[str] = []

    def note(token: str) -> bool:
        """Record a cited id; True when it may stay in the text."""
        if token in allowed:
            if token not in cited:
                cited.append(token)
            return True
        if token not in invented:
            invented.append(token)
        return False

    def bracket(m: re.Match[str]) -> str:
        tokens = [t.strip() for t in re.split(r"[,;]", m.group(1))]
        if not all(_ID_LIKE.match(t) for t in tokens if t):
            return m.group(0)  # ordinary brackets, not a citation
        keep = [t for t in tokens if t and note(t)]
        return f"[{', '.join(keep)}]" if keep else ""

    cleaned = _BRACKETED.sub(bracket, text)
    cleaned = _BARE_ID.sub(lambda m: m.group(0) if note(m.group(0)) else "", cleaned)
    cleaned = re.sub(r"[ \t]+([.,;!?])", r"\1", re.sub(r"[ \t]{2,}", " ", cleaned)).strip()
    uncited = [s for s in _sentences(cleaned) if not any(i in s for i in cited)]
    return CitationCheck(text=cleaned, cited=cited, invented=invented, uncited=uncited)


def _sentences(text: str) -> list[str]:
    """Sentences, each with the citations that follow its full stop ("… rude. [n-…] Next …")."""
    return [s.strip() for s in _SENTENCE_END.sub(r"\1\n", text).splitlines() if len(s.split()) >= 2]


class AnswerResult(BaseModel):
    question: str
    answer: str = Field(description="the model's answer, invented ids removed")
    raw: str = Field(description="the model's output as it came")
    citations: list[Citation] = Field(description="the context items the answer cites")
    invented_ids: list[str] = Field(description="ids the answer cited that were not in its context; removed")
    uncited: list[str] = Field(description="sentences of the answer that cite nothing from the context")
    grounded: bool = Field(description="cites the context, and every sentence carries a citation")
    context_ids: list[str] = Field(description="the ids the model was given")
    context_template: str
    template: str
    model: str
    backend: str
    decoding: DecodingParams
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    judgment: Any = Field(None, description="the judge's verdict for a judgment question, when a judge is wired in")


def answer_question(
    backend: GeneratorBackend,
    question: str,
    context: PromptResult,
    params: DecodingParams = ANSWER_DECODING,
    *,
    judge: Judge | None = None,
) -> AnswerResult:
    started = time.perf_counter()
    completion = backend.generate(answer_messages(question, context.prompt), params, n=1)[0]
    allowed = {c.id: c for c in context.citations}
    checked = check_citations(completion.text, allowed)
    verdict = judge(question, context) if judge is not None else None
    if isinstance(verdict, BaseModel):
        verdict = verdict.model_dump(mode="json")
    return AnswerResult(
        question=question,
        answer=checked.text,
        raw=completion.text,
        citations=[allowed[i] for i in checked.cited],
        invented_ids=checked.invented,
        uncited=checked.uncited,
        grounded=bool(checked.cited) and not checked.uncited,
        context_ids=list(allowed),
        context_template=context.template,
        template=ANSWER_TEMPLATE,
        model=backend.model_id,
        backend=backend.name,
        decoding=params,
        prompt_tokens=completion.prompt_tokens,
        completion_tokens=completion.completion_tokens,
        seconds=round(time.perf_counter() - started, 3),
        judgment=verdict,
    )

