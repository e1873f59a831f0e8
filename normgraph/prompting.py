"""Prompt assembly for agents: the most relevant norms for a situation as one block to put in a prompt.

    build_prompt(retriever, "I'm at my colleague's funeral and my phone rings", k=8)

1. retrieve ``3k`` candidates (hybrid; filters and facts as for retrieval);
2. drop near-duplicates — a candidate whose embedding has cosine >= ``dedup_threshold`` with one already kept
   (NormBank states the same norm under many frames, and a prompt gains nothing from five rephrasings);
3. keep the best ``k`` — the longest most-relevant prefix whose rendering stays within ``max_tokens``;
4. render grouped — norms / rules of thumb / values, rights and duties — each line with its citation id, and
   flag conflicts: two kept norms about the same behaviour with different labels whose frames can hold
   together and neither of which is more specific than the other.

The template is named and versioned (``TEMPLATE``); the response says which one produced it, so an agent or
an evaluation can pin it. Token counts are an estimate (see ``estimate_tokens``) that errs on the high side
for English with common BPE tokenizers, so a budget is not overrun by a different tokenizer.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Literal, Sequence

import numpy as np
from pydantic import BaseModel, Field

from normgraph.errors import InvalidInput
from normgraph.frames.grammar import format_frame
from normgraph.frames.logic import check_compatible, entails
from normgraph.ids import normalise_text
from normgraph.models import AnyStatement, Kind, Norm, RuleOfThumb, ValueRightDuty
from normgraph.retrieval import MAX_K, RetrievalFilters, RetrievalHit, Retriever, check_query

TEMPLATE_NAME = "normgraph-context"
TEMPLATE_VERSION = "1"
TEMPLATE = f"{TEMPLATE_NAME}@{TEMPLATE_VERSION}"
Format = Literal["markdown", "json"]
DEFAULT_K = 8
DEFAULT_MAX_TOKENS = 800
MIN_MAX_TOKENS = 64
MAX_MAX_TOKENS = 32_000
DEDUP_THRESHOLD = 0.95
MAX_CONFLICTS = 10

GROUPS: tuple[tuple[str, str, frozenset[Kind]], ...] = (
    ("norms", "Norms", frozenset({Kind.norm})),
    ("rules_of_thumb", "Rules of thumb", frozenset({Kind.rule_of_thumb})),
    ("values_rights_duties", "Values, rights and duties", frozenset({Kind.value, Kind.right, Kind.duty})),
)

_piece = re.compile(r"[A-Za-z]+|\d+|[^\sA-Za-z\d]")


def estimate_tokens(text: str) -> int:
    """Words, numbers and punctuation marks each count one token, long words one per 6 letters started.

    On English prose this is within a few percent above cl100k/o200k counts; JSON punctuation is counted in
    full, so JSON prompts are estimated high rather than low."""
    n = 0
    for m in _piece.finditer(text):
        w = m.end() - m.start()
        n += 1 if w <= 6 else math.ceil(w / 6)
    return n


class Citation(BaseModel):
    id: str
    text: str
    source: str
    kind: Kind


class Conflict(BaseModel):
    ids: tuple[str, str]
    behavior: str
    labels: tuple[str, str]
    note: str


class PromptResult(BaseModel):
    prompt: str
    citations: list[Citation]
    template: str = Field(description="name@version of the template that produced the prompt")
    format: Format
    tokens: int = Field(description="estimated tokens of `prompt`")
    max_tokens: int
    conflicts: list[Conflict]
    omitted: int = Field(description="relevant items left out to stay within max_tokens")
    near_duplicates_removed: int


def build_prompt(
    retriever: Retriever,
    situation: str,
    k: int = DEFAULT_K,
    *,
    format: str = "markdown",
    max_tokens: int | None = None,
    filters: RetrievalFilters | dict[str, Any] | None = None,
    facts: Sequence[str | dict] | str | None = None,
    dedup_threshold: float = DEDUP_THRESHOLD,
) -> PromptResult:
    situation, k = check_query(situation, k)
    if format not in ("markdown", "json"):
        raise InvalidInput(f"format must be markdown or json, not {format!r}", {"format": format})
    budget = DEFAULT_MAX_TOKENS if max_tokens is None else max_tokens
    if isinstance(budget, bool) or not isinstance(budget, int) or not MIN_MAX_TOKENS <= budget <= MAX_MAX_TOKENS:
        raise InvalidInput(
            f"max_tokens must be an integer between {MIN_MAX_TOKENS} and {MAX_MAX_TOKENS}, not {max_tokens!r}",
            {"max_tokens": max_tokens, "min": MIN_MAX_TOKENS, "max": MAX_MAX_TOKENS},
        )
    found = retriever.retrieve(situation, min(MAX_K, 3 * k), filters, facts=facts).results
    kept, removed = _dedup(retriever, found, dedup_threshold)
    statements = {h.id: retriever.store.get_statement(h.id) for h in kept[:k]}

    # The most relevant prefix that fits: a less relevant item never displaces a more relevant one.
    chosen: list[RetrievalHit] = []
    for h in kept[:k]:
        trial = chosen + [h]
        if estimate_tokens(_render(format, situation, trial, statements, _conflicts(trial, statements))) > budget:
            break
        chosen = trial
    omitted = len(kept[:k]) - len(chosen)
    conflicts = _conflicts(chosen, statements)
    prompt = _render(format, situation, chosen, statements, conflicts)
    if estimate_tokens(prompt) > budget:
        # Not even the header fits: an agent asking for this little context gets a clear error, not half a prompt.
        raise InvalidInput(
            f"max_tokens={budget} is too small for the prompt header; ask for at least {estimate_tokens(prompt)}",
            {"max_tokens": budget, "needed": estimate_tokens(prompt)},
        )
    return PromptResult(
        prompt=prompt,
        citations=[Citation(id=h.id, text=h.text, source=h.source, kind=h.kind) for h in chosen],
        template=TEMPLATE,
        format=format,
        tokens=estimate_tokens(prompt),
        max_tokens=budget,
        conflicts=conflicts,
        omitted=omitted,
        near_duplicates_removed=removed,
    )


def _dedup(retriever: Retriever, hits: list[RetrievalHit], threshold: float) -> tuple[list[RetrievalHit], int]:
    vectors = retriever.vectors_for([h.id for h in hits])
    kept: list[RetrievalHit] = []
    kept_vecs: list[np.ndarray] = []
    seen_text: set[str] = set()
    removed = 0
    for h in hits:
        key = normalise_text(h.text)
        v = vectors.get(h.id)
        duplicate = key in seen_text or (
            v is not None and kept_vecs and float(np.max(np.stack(kept_vecs) @ v)) >= threshold
        )
        if duplicate:
            removed += 1
            continue
        kept.append(h)
        seen_text.add(key)
        if v is not None:
            kept_vecs.append(v)
    return kept, removed


def _conflicts(hits: list[RetrievalHit], statements: dict[str, AnyStatement | None]) -> list[Conflict]:
    out: list[Conflict] = []
    items = [statements.get(h.id) for h in hits]
    for i, a in enumerate(items):
        for b in items[i + 1 :]:
            c = _conflict(a, b)
            if c is not None:
                out.append(c)
                if len(out) >= MAX_CONFLICTS:
                    return out
    return out


def _conflict(a: AnyStatement | None, b: AnyStatement | None) -> Conflict | None:
    if isinstance(a, Norm) and isinstance(b, Norm):
        if a.label == b.label or normalise_text(a.behavior or "") != normalise_text(b.behavior or ""):
            return None
        if a.setting and b.setting and normalise_text(a.setting) != normalise_text(b.setting):
            return None
        try:
            check_compatible(a.constraints + b.constraints)
        except InvalidInput:  # incompatible (or undecidable) frames
            return None  # their frames exclude each other: both can be right
        if entails(a.constraints, b.constraints) != entails(b.constraints, a.constraints):
            return None  # one is more specific and overrides the other (DESIGN §3), not a conflict
        frames = f"[{format_frame(a.constraints) or 'no constraints'}] vs [{format_frame(b.constraints) or 'no constraints'}]"
        return Conflict(
            ids=(a.id, b.id),
            behavior=a.behavior or "",
            labels=(a.label.value, b.label.value),
            note=f"both can apply and neither is more specific: {frames}",
        )
    if isinstance(a, RuleOfThumb) and isinstance(b, RuleOfThumb) and a.action and b.action:
        if a.label and b.label and a.label != b.label and normalise_text(a.action) == normalise_text(b.action):
            return Conflict(ids=(a.id, b.id), behavior=a.action, labels=(a.label.value, b.label.value), note="same action judged differently")
    return None


def _describe(h: RetrievalHit, s: AnyStatement | None) -> str:
    bits: list[str] = []
    if isinstance(s, Norm):
        bits.append(f"{s.label.value}")
        if s.setting:
            bits.append(f"setting: {s.setting}")
    elif isinstance(s, ValueRightDuty):
        bits.append(f"{s.kind.value}, {s.valence.value}")
    elif isinstance(s, RuleOfThumb) and s.label:
        bits.append(s.label.value)
    if h.resolution:
        bits.append(h.resolution)
    bits.append(f"source: {h.source}")
    return "; ".join(bits)


def _grouped(hits: list[RetrievalHit]) -> list[tuple[str, str, list[RetrievalHit]]]:
    return [(key, title, [h for h in hits if h.kind in kinds]) for key, title, kinds in GROUPS]


def _render(
    fmt: str,
    situation: str,
    hits: list[RetrievalHit],
    statements: dict[str, AnyStatement | None],
    conflicts: list[Conflict],
) -> str:
    if fmt == "json":
        doc: dict[str, Any] = {"template": TEMPLATE, "situation": situation}
        for key, _, group in _grouped(hits):
            doc[key] = [
                {"id": h.id, "text": h.text, "label": h.label.value if h.label else None, "source": h.source}
                | ({"resolution": h.resolution} if h.resolution else {})
                for h in group
            ]
        doc["conflicts"] = [{"ids": list(c.ids), "labels": list(c.labels), "note": c.note} for c in conflicts]
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    lines = [
        "## Social norms relevant to this situation",
        f"Situation: {situation}",
        "Cite an item by its id in square brackets, e.g. [" + (hits[0].id if hits else "n-…") + "].",
    ]
    if not hits:
        lines.append("No stored norm matched this situation.")
    for _, title, group in _grouped(hits):
        if not group:
            continue
        lines.append("")
        lines.append(f"### {title}")
        lines.extend(f"- [{h.id}] {h.text} ({_describe(h, statements.get(h.id))})" for h in group)
    if conflicts:
        lines.append("")
        lines.append("### Conflicts")
        lines.extend(
            f"- [{c.ids[0]}] ({c.labels[0]}) and [{c.ids[1]}] ({c.labels[1]}) disagree about {c.behavior}: {c.note}"
            for c in conflicts
        )
    return "\n".join(lines)
