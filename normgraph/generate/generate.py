"""Propose labelled norms for a frame: a setting, optionally a behaviour, and the facts that hold.

1. The request is checked before anything loads: a known setting (404 otherwise), a non-blank behaviour, facts
   that parse and hold together (422).
2. The prompt (``prompts.GENERATE_TEMPLATE``) shows up to three norms of the setting (or a broader one) from
   the bank as worked examples — trusted or approved ones only, never another proposal.
3. The backend samples ``n`` completions; each is parsed and validated with the constraint grammar
   (``parse``). Invalid ones are retried with fresh seeds, up to ``max_attempts`` rounds; duplicates are not
   (a model that keeps saying the same thing says it again).
4. Each valid proposal becomes a ``Norm`` with ``review_state: proposed``, its text verbalised from its
   structure (so text and frame cannot disagree), a content-derived id, and provenance naming the model, the
   template, the decoding parameters, the seed and the attempt. It is dropped as a duplicate when its id is
   already stored, when a stored norm with the same label embeds within the threshold (``dedup``), or when an
   earlier proposal of the same run does.

Storing is the service's job (``GeneratorService.generate``): this module never writes.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Sequence

import numpy as np
from pydantic import BaseModel, Field

from normgraph.errors import InvalidInput, NotFound
from normgraph.frames.grammar import coerce_constraints, format_constraint
from normgraph.frames.logic import check_compatible
from normgraph.generate.backends.base import DecodingParams, GeneratorBackend
from normgraph.generate.dedup import DEFAULT_THRESHOLD, check_duplicate, duplicate_within
from normgraph.generate.parse import MAX_BEHAVIOR_CHARS, ProposalInvalid, parse_proposal
from normgraph.generate.prompts import FALLBACK_EXAMPLES, GENERATE_TEMPLATE, Example, example_from, generate_messages
from normgraph.ids import KIND_PREFIX, normalise_text, statement_id
from normgraph.models import ConceptScheme, Constraint, Label, Norm, Provenance, Relation, ReviewState, Subject
from normgraph.store.base import ANSWERING_STATES, GraphStore
from normgraph.verbalise import verbalise_norm

if TYPE_CHECKING:
    from normgraph.retrieval import Retriever

SOURCE = "generated"
MAX_N = 10
MAX_FACTS = 16
MAX_SETTING_CHARS = 200
DEFAULT_N = 3
DEFAULT_ATTEMPTS = 3
EXAMPLES = 3
GENERATE_DECODING = DecodingParams(max_new_tokens=64, temperature=0.7, top_p=0.95)


class ProposedNorm(BaseModel):
    norm: Norm
    raw: str = Field(description="the model's output it was read from")
    repairs: list[str] = Field(description="what was repaired to make it valid (empty: taken as written)")
    conflicts_with: str | None = Field(
        None, description="a stored norm that says nearly the same with another label: for the curator to weigh"
    )
    stored: bool = Field(False, description="written to the bank (as proposed)")


class DuplicateProposal(BaseModel):
    text: str
    label: Label
    raw: str
    duplicate_of: str = Field(description="id of the stored norm (or earlier proposal of this run) it repeats")
    similarity: float
    review_state: str = Field(description="review state of what it repeats")


class InvalidProposal(BaseModel):
    raw: str
    reason: str
    attempt: int


class GenerateResult(BaseModel):
    setting: str
    behavior: str | None
    facts: list[str]
    proposals: list[ProposedNorm]
    duplicates: list[DuplicateProposal]
    invalid: list[InvalidProposal]
    model: str
    backend: str
    template: str
    decoding: DecodingParams
    attempts: int = Field(description="rounds of sampling (invalid outputs are retried with new seeds)")
    stored: int = Field(0, description="proposals written to the bank")
    prompt_tokens: int
    completion_tokens: int
    seconds: float


class GenerateRequestChecked(BaseModel):
    setting: str
    chain: list[str]
    behavior: str | None
    facts: tuple[Constraint, ...]
    n: int


def check_request(
    store: GraphStore, setting: object, behavior: object, facts: object, n: object
) -> GenerateRequestChecked:
    """The caller's input, checked before a model loads."""
    if not isinstance(setting, str) or not setting.strip():
        raise InvalidInput("setting must be a non-empty string", {"setting": setting if isinstance(setting, str) else None})
    if len(setting) > MAX_SETTING_CHARS:
        raise InvalidInput(f"setting is {len(setting)} characters long; at most {MAX_SETTING_CHARS}", {"length": len(setting)})
    if behavior is not None:
        if not isinstance(behavior, str) or not behavior.strip():
            raise InvalidInput("behavior must be a non-empty phrase, or left out to let the model choose", {"behavior": behavior})
        if len(behavior) > MAX_BEHAVIOR_CHARS:
            raise InvalidInput(
                f"behavior is {len(behavior)} characters long; at most {MAX_BEHAVIOR_CHARS}",
                {"length": len(behavior), "max": MAX_BEHAVIOR_CHARS},
            )
        behavior = normalise_text(behavior)
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_N:
        raise InvalidInput(f"n must be an integer between 1 and {MAX_N}, not {n!r}", {"n": n, "min": 1, "max": MAX_N})
    constraints = coerce_constraints(facts) if facts else ()  # type: ignore[arg-type]
    if len(constraints) > MAX_FACTS:
        raise InvalidInput(f"at most {MAX_FACTS} facts", {"facts": len(constraints)})
    check_compatible(constraints)
    label, chain = _setting(store, setting)
    return GenerateRequestChecked(setting=label, chain=chain, behavior=behavior, facts=constraints, n=n)


def _setting(store: GraphStore, setting: str) -> tuple[str, list[str]]:
    concept = store.find_concept(ConceptScheme.setting, setting)
    if concept is not None:
        chain = [c.label for c in (store.get_concept(cid) for cid in store.broader_closure(concept.id)) if c]
        return normalise_text(concept.label), [normalise_text(x) for x in chain]
    label = normalise_text(setting)
    if store.candidates([label], None, frozenset(ReviewState)):  # a setting named only by its norms
        return label, [label]
    raise NotFound(f"unknown setting {setting!r}: see GET /v1/settings for the settings in this bank", {"setting": setting})


def pick_examples(store: GraphStore, req: GenerateRequestChecked, k: int = EXAMPLES) -> list[Example]:
    """Norms of the setting (nearest first in its broader chain), the requested behaviour first, and frames of
    two or more constraints before one (they show how a condition is added)."""
    norms = store.candidates(req.chain, None, ANSWERING_STATES)
    depth = {label: i for i, label in enumerate(req.chain)}

    def order(n: Norm) -> tuple[int, int, int, str]:
        same = 0 if req.behavior and normalise_text(n.behavior or "") == req.behavior else 1
        return (same, depth.get(normalise_text(n.setting or ""), 99), 0 if len(n.constraints) > 1 else 1, n.id)

    picked: list[Example] = []
    behaviours: set[str] = set()
    for norm in sorted(norms, key=order):
        e = example_from(norm)
        # One example per behaviour: three frames of "shout" teach the model to say "shout" whatever it is asked.
        if e is None or e.behavior in behaviours:
            continue
        picked.append(e)
        behaviours.add(e.behavior)
        if len(picked) == k:
            return picked
    return picked + list(FALLBACK_EXAMPLES[: k - len(picked)])


def propose(
    store: GraphStore,
    retriever: "Retriever",
    backend: GeneratorBackend,
    req: GenerateRequestChecked,
    params: DecodingParams = GENERATE_DECODING,
    *,
    max_attempts: int = DEFAULT_ATTEMPTS,
    threshold: float = DEFAULT_THRESHOLD,
) -> GenerateResult:
    started = time.perf_counter()
    messages = generate_messages(req.setting, req.behavior, req.facts, pick_examples(store, req))
    proposals: list[ProposedNorm] = []
    kept: list[tuple[np.ndarray, Label]] = []
    duplicates: list[DuplicateProposal] = []
    invalid: list[InvalidProposal] = []
    prompt_tokens = completion_tokens = 0
    wanted, attempt = req.n, 0
    while wanted > 0 and attempt < max_attempts:
        # Seeds never repeat across rounds: round r samples with seeds from seed + r * n.
        round_params = params.with_seed(params.seed + attempt * req.n)
        completions = backend.generate(messages, round_params, n=wanted)
        prompt_tokens += completions[0].prompt_tokens if completions else 0
        completion_tokens += sum(c.completion_tokens for c in completions)
        retry = 0
        for i, c in enumerate(completions):
            try:
                parsed = parse_proposal(c.text, behavior=req.behavior, facts=req.facts)
            except ProposalInvalid as e:
                invalid.append(InvalidProposal(raw=c.text, reason=e.message, attempt=attempt))
                retry += 1
                continue
            generation: dict[str, str | int | float | bool] = {
                "backend": backend.name,
                "template": GENERATE_TEMPLATE,
                "max_new_tokens": round_params.max_new_tokens,
                "temperature": round_params.temperature,
                "top_p": round_params.top_p,
                "seed": round_params.seed,
                "batch": wanted,
                "index": i,
                "attempt": attempt,
            }
            norm = build_norm(req.setting, parsed.behavior, parsed.constraints, parsed.label, backend.model_id, generation)
            duplicate, conflict, vector = _duplicate(store, retriever, norm, c.text, proposals, kept, threshold)
            if duplicate is not None:
                duplicates.append(duplicate)
                continue
            proposals.append(ProposedNorm(norm=norm, raw=c.text, repairs=parsed.repairs, conflicts_with=conflict))
            kept.append((vector, norm.label))
        wanted, attempt = retry, attempt + 1
    return GenerateResult(
        setting=req.setting,
        behavior=req.behavior,
        facts=[format_constraint(f) for f in req.facts],
        proposals=proposals,
        duplicates=duplicates,
        invalid=invalid,
        model=backend.model_id,
        backend=backend.name,
        template=GENERATE_TEMPLATE,
        decoding=params,
        attempts=attempt,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        seconds=round(time.perf_counter() - started, 3),
    )


def _duplicate(
    store: GraphStore,
    retriever: "Retriever",
    norm: Norm,
    raw: str,
    proposals: Sequence[ProposedNorm],
    kept: Sequence[tuple[np.ndarray, Label]],
    threshold: float,
) -> tuple[DuplicateProposal | None, str | None, np.ndarray]:
    def dup(of: str, similarity: float, state: str) -> DuplicateProposal:
        return DuplicateProposal(
            text=norm.text, label=norm.label, raw=raw, duplicate_of=of, similarity=round(similarity, 4), review_state=state
        )

    verdict, vector = check_duplicate(retriever, norm.text, norm.label, threshold)
    same_id = next((p for p in proposals if p.norm.id == norm.id), None)
    if same_id is not None:
        return dup(same_id.norm.id, 1.0, "proposed (this run)"), None, vector
    stored = store.get_statement(norm.id)
    if stored is not None:  # the very same norm, whatever the index says
        return dup(stored.id, 1.0, stored.review_state.value), None, vector
    if verdict.duplicate_of is not None:
        n = verdict.duplicate_of
        return dup(n.id, n.similarity, n.review_state), None, vector
    earlier = duplicate_within(vector, norm.label, kept, threshold)
    if earlier is not None:
        first = proposals[earlier].norm.id
        return dup(first, float(np.dot(vector, kept[earlier][0])), "proposed (this run)"), None, vector
    return None, verdict.conflicts_with.id if verdict.conflicts_with else None, vector


def build_norm(
    setting: str,
    behavior: str,
    constraints: tuple[Constraint, ...],
    label: Label,
    model_id: str,
    generation: dict[str, str | int | float | bool],
) -> Norm:
    """A proposal as a statement of the bank: never anything but ``proposed`` until a curator says otherwise."""
    frame = sorted(format_constraint(c) for c in constraints)
    return Norm(
        id=statement_id(KIND_PREFIX["norm"], SOURCE, setting, behavior, *frame, "\x1e", label.value),
        text=verbalise_norm(setting, behavior, constraints, label),
        setting=setting,
        behavior=behavior,
        country=next(
            (
                normalise_text(c.value)
                for c in constraints
                if c.subject is Subject.environment and c.attribute == "country" and c.relation is Relation.is_
            ),
            None,
        ),
        review_state=ReviewState.proposed,
        label=label,
        constraints=constraints,
        provenance=Provenance(source=SOURCE, generated_by=model_id, generation=generation),
    )
