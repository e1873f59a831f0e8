"""Answering "what holds here?": non-monotonic resolution of norms against a caller's facts (DESIGN §3).

1. candidates: norms of the query setting or a broader one, about the behaviour (or an alias of it);
2. each constraint is satisfied / violated / unknown against the facts (``frames.logic``);
3. applicable = all satisfied; conditional = none violated, some unknown (reported, never deciding while an
   applicable norm exists);
4. specificity is the product order: A is at least as specific as B when A's setting is B's or narrower AND
   A's frame entails B's; strictly more specific when not also the other way round. Where the two criteria
   disagree (narrower setting, weaker frame) neither wins and a disagreement shows as a conflict — see
   docs/decisions/0003-specificity-product-order.md;
5. an applicable norm is defeated by a strictly more specific applicable norm with another label.
"""

from __future__ import annotations

import base64
import binascii
from collections import defaultdict
from typing import Iterable, Mapping, Sequence

import orjson

from normgraph.errors import InvalidInput, NotFound
from normgraph.frames.grammar import format_constraint, format_frame
from normgraph.frames.logic import FactSet, Truth, entails
from normgraph.frames.results import (
    BehaviorResult,
    ConditionalNorm,
    DefeatedNorm,
    NormEvidence,
    QueryResult,
)
from normgraph.ids import normalise_text
from normgraph.models import Constraint, ConceptScheme, Label, Norm, ReviewState
from normgraph.store.base import ANSWERING_STATES, GraphStore

# A decision resting only on conditional norms is a guess about the unknowns: its confidence is discounted.
CONDITIONAL_DISCOUNT = 0.5
MAX_CONFLICT_PAIRS = 20
# Ties in the label distribution are broken towards caution.
_TIE_ORDER = {Label.unexpected: 0, Label.okay: 1, Label.expected: 2}


def _weight(n: Norm) -> float:
    a = n.provenance.agreement
    return 1.0 if a is None else max(a, 0.05)


class _Ranked:
    """A candidate norm with what resolution needs of it."""

    __slots__ = ("norm", "depth", "unknown")

    def __init__(self, norm: Norm, depth: int, unknown: list[Constraint]) -> None:
        self.norm = norm
        self.depth = depth
        self.unknown = unknown


def _at_least_as_specific(a: _Ranked, b: _Ranked) -> bool:
    return a.depth <= b.depth and entails(a.norm.constraints, b.norm.constraints)


def more_specific(a: _Ranked, b: _Ranked) -> bool:
    return _at_least_as_specific(a, b) and not _at_least_as_specific(b, a)


def _distribution(weights: Mapping[Label, float]) -> tuple[Label | None, dict[str, float], float]:
    total = sum(weights.values())
    if total <= 0:
        return None, {}, 0.0
    dist = {label.value: round(w / total, 4) for label, w in weights.items() if w > 0}
    top = min(weights, key=lambda lab: (-weights[lab], _TIE_ORDER[lab]))
    return top, dist, weights[top] / total


def resolve_behavior(
    behavior: str,
    norms: Iterable[Norm],
    facts: FactSet,
    depth: Mapping[str, int],
    *,
    include_defeated: bool = True,
) -> BehaviorResult:
    """Resolve the norms about one behaviour. ``depth`` maps a setting label to its distance from the
    query setting (0 = the query setting itself, 1 = its parent …)."""
    applicable: list[_Ranked] = []
    conditional: list[_Ranked] = []
    for n in norms:
        unknown: list[Constraint] = []
        violated = False
        for c in n.constraints:
            t = facts.truth(c)
            if t is Truth.violated:
                violated = True
                break
            if t is Truth.unknown:
                unknown.append(c)
        if violated:
            continue
        r = _Ranked(n, depth.get(n.setting or "", len(depth)), unknown)
        (conditional if unknown else applicable).append(r)

    defeated: list[tuple[_Ranked, list[str]]] = []
    undefeated: list[_Ranked] = []
    for a in applicable:
        by = [b.norm.id for b in applicable if b.norm.label != a.norm.label and more_specific(b, a)]
        (defeated.append((a, by)) if by else undefeated.append(a))

    weights: dict[Label, float] = defaultdict(float)
    if undefeated:
        basis = "applicable"
        for r in undefeated:
            weights[r.norm.label] += _weight(r.norm)
        label, dist, confidence = _distribution(weights)
    elif conditional:
        basis = "conditional"
        for r in conditional:
            weights[r.norm.label] += _weight(r.norm) / (1 + len(r.unknown))
        label, dist, confidence = _distribution(weights)
        confidence *= CONDITIONAL_DISCOUNT
    else:
        basis, label, dist, confidence = "none", None, {}, 0.0

    # Among undefeated norms, two with different labels are incomparable (else one would be defeated).
    pairs: list[tuple[str, str]] = []
    for i, a in enumerate(undefeated):
        for b in undefeated[i + 1 :]:
            if a.norm.label != b.norm.label and len(pairs) < MAX_CONFLICT_PAIRS:
                pairs.append((a.norm.id, b.norm.id))
    conflict = len({r.norm.label for r in undefeated}) > 1

    return BehaviorResult(
        behavior=behavior,
        label=label,
        basis=basis,
        confidence=round(confidence, 4),
        distribution=dist,
        norms=[
            NormEvidence(
                id=r.norm.id,
                text=r.norm.text,
                label=r.norm.label,
                setting=r.norm.setting,
                frame=format_frame(r.norm.constraints),
                constraints=list(r.norm.constraints),
                source=r.norm.provenance.source,
                weight=_weight(r.norm),
            )
            for r in undefeated
        ],
        defeated=[
            DefeatedNorm(
                id=r.norm.id,
                text=r.norm.text,
                label=r.norm.label,
                frame=format_frame(r.norm.constraints),
                defeated_by=by,
            )
            for r, by in defeated
        ]
        if include_defeated
        else [],
        conditional=[
            ConditionalNorm(
                id=r.norm.id,
                text=r.norm.text,
                label=r.norm.label,
                frame=format_frame(r.norm.constraints),
                unknown=[format_constraint(c) for c in r.unknown],
            )
            for r in conditional
        ],
        conflict=conflict,
        conflicts=pairs,
    )


def encode_cursor(after: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps({"after": after})).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        after = orjson.loads(raw)["after"]
        if not isinstance(after, str):
            raise TypeError
        return after
    except (binascii.Error, ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        raise InvalidInput("invalid cursor: pass back the next_cursor of a previous page", {"cursor": cursor}) from None


def answer_query(
    store: GraphStore,
    setting: str,
    behavior: str | None,
    facts: Sequence[Constraint],
    *,
    limit: int = 50,
    cursor: str | None = None,
    include_defeated: bool = True,
    review_states: frozenset[ReviewState] = ANSWERING_STATES,
    read_every_norm: bool = False,
) -> QueryResult:
    """Resolve a query over the bank: one result per behaviour, behaviours in name order, paginated.

    Without a behaviour, the page of behaviour names is chosen from ``store.behavior_counts`` first and only
    its norms are read. ``read_every_norm`` reads and groups every norm of the setting instead, then pages:
    the earlier design, kept as the reference the paging path is tested and benchmarked against."""
    if limit < 1:
        raise InvalidInput("limit must be at least 1", {"limit": limit})
    concept = store.find_concept(ConceptScheme.setting, setting)
    if concept is None:
        raise NotFound(f"unknown setting {setting!r}: see GET /v1/settings for the settings in this bank", {"setting": setting})
    chain: list[str] = []
    for cid in store.broader_closure(concept.id):
        c = store.get_concept(cid)
        if c is not None:
            chain.append(normalise_text(c.label))
    depth = {label: i for i, label in enumerate(chain)}
    fact_set = FactSet(facts, strict=True)

    behaviors: list[str] | None = None
    if behavior is not None:
        if not behavior.strip():
            raise InvalidInput("behavior must not be empty when given", {"behavior": behavior})
        # Every concept the word names counts: an alias may also be another concept's preferred label.
        found = store.find_concepts(ConceptScheme.behavior, behavior)
        labels = [normalise_text(found[0].label)] if found else []  # names the answer's one group
        labels.append(normalise_text(behavior))
        for b in found:
            labels += [normalise_text(b.label), *(normalise_text(x) for x in b.alt_labels)]
        behaviors = list(dict.fromkeys(labels))

    if behaviors is not None:
        norms = store.candidates(chain, behaviors, review_states)
        groups = {behaviors[0]: norms} if norms else {}
        page, more = _page(sorted(groups), cursor, limit)
    elif read_every_norm:
        groups = _every_group(store, chain, review_states, _Names(store))
        page, more = _page(sorted(groups), cursor, limit)
    else:
        page, more, groups = _setting_page(store, chain, review_states, cursor, limit)
    results = [resolve_behavior(b, groups[b], fact_set, depth, include_defeated=include_defeated) for b in page]
    return QueryResult(
        setting=normalise_text(concept.label),
        setting_chain=chain,
        behavior=behaviors[0] if behaviors else None,
        facts=[format_constraint(c) for c in fact_set.constraints],
        results=results,
        next_cursor=encode_cursor(page[-1]) if more and page else None,
    )


class _Names:
    """The name a behaviour label is answered under: its concept's preferred label (so aliases and spellings
    share one result), or the label itself when no concept has it; ``""`` for norms without a behaviour."""

    def __init__(self, store: GraphStore) -> None:
        self.store = store
        self.memo: dict[str, str] = {}

    def __call__(self, label: str | None) -> str:
        key = label or ""
        name = self.memo.get(key)
        if name is None:
            bc = self.store.find_concept(ConceptScheme.behavior, key) if key else None
            name = self.memo[key] = normalise_text(bc.label) if bc else key
        return name


def _page(names: list[str], cursor: str | None, limit: int) -> tuple[list[str], bool]:
    """The sorted ``names`` after the cursor, ``limit`` of them, and whether more follow."""
    if cursor is not None:
        after = decode_cursor(cursor)
        names = [x for x in names if x > after]
    return names[:limit], len(names) > limit


def _every_group(
    store: GraphStore, chain: list[str], review_states: frozenset[ReviewState], name: _Names
) -> dict[str, list[Norm]]:
    groups: dict[str, list[Norm]] = defaultdict(list)
    for n in store.candidates(chain, None, review_states):
        groups[name(n.behavior)].append(n)
    return groups


def _setting_page(
    store: GraphStore, chain: list[str], review_states: frozenset[ReviewState], cursor: str | None, limit: int
) -> tuple[list[str], bool, dict[str, list[Norm]]]:
    """One page of a setting-only query: the behaviour names from the store's counts, then the norms of the
    page's behaviours only. A big setting has hundreds of behaviours and ~1,200 norms at 155k; reading and
    decoding every one of them for a page of 50 was most of such a query's time."""
    name = _Names(store)
    labels_of: dict[str, list[str | None]] = defaultdict(list)
    for label in store.behavior_counts(chain, review_states):
        labels_of[name(label)].append(label)
    page, more = _page(sorted(labels_of), cursor, limit)
    wanted = [label for b in page for label in labels_of[b] if label is not None]
    norms = store.candidates(chain, wanted, review_states) if wanted else []
    if any(None in labels_of[b] for b in page):
        norms += [n for n in store.candidates(chain, None, review_states) if not n.behavior]
    groups: dict[str, list[Norm]] = defaultdict(list)
    for n in norms:
        groups[name(n.behavior)].append(n)
    if not groups.keys() <= set(page):
        # A norm's own spelling of its behaviour names another result than the label it was counted under
        # (only a taxonomy where a spelling variant is another concept's alias does that): answer from every
        # norm, which is right by construction.
        groups = _every_group(store, chain, review_states, name)
        page, more = _page(sorted(groups), cursor, limit)
    return page, more, groups
