"""Situation nodes: the free-text situations that rules of thumb, values, rights, duties and norms are written for.

Every statement with a ``situation`` links (``ng:inSituation``) to one situation concept per normalised text,
so the same situation written by two sources — a Social-Chem-101 post, a ValuePrism situation, a Moral Stories
setting — is one node, and each source's spelling is kept as an alternative label. Ids are readable and
derived from the text (``situation/lying-to-my-friend-about-her-cooking``); long texts (posts, vignettes) are
cut and finished with a hash of the whole, so ids stay short and distinct.

``situation_view`` answers "what is there about this situation?" through the graph: the statements written
for it, grouped by kind, the behaviours they judge, and — because many sources write a situation as an action
("Leave a tip") — the statements about the behaviour spelled like the situation.
"""

from __future__ import annotations

import hashlib
from typing import Any, Sequence

from pydantic import BaseModel, Field

from normgraph.errors import NotFound
from normgraph.ids import concept_id, normalise_text, slug
from normgraph.models import (
    AnyStatement,
    ConceptScheme,
    Kind,
    Norm,
    ReviewState,
    RuleOfThumb,
    ValueRightDuty,
)
from normgraph.source_registry import attribution_notices

SCHEME = "situation"
PREFIX = SCHEME + "/"
_MAX_SLUG = 80
_CUT = 60
_MAX_LINKED = 20000  # statements read for one situation before grouping (a situation has a handful to hundreds)


def situation_id(text: str) -> str:
    """The id of the situation node for ``text``: the same for every spelling that slugs alike."""
    s = slug(text)
    if len(s) > _MAX_SLUG:
        digest = hashlib.sha256(s.encode("utf-8")).hexdigest()[:12]
        s = s[:_CUT].rstrip("-") + "-" + digest
    return PREFIX + s


class BehaviorLink(BaseModel):
    id: str = Field(description="behaviour concept id")
    label: str
    statements: int = Field(description="statements (from any source, in any situation) about this behaviour")


class SituationView(BaseModel):
    """A situation with everything the graph links to it."""

    id: str
    text: str = Field(description="the situation as first written")
    aliases: list[str] = Field(default_factory=list, description="other spellings of it, from other sources")
    rules_of_thumb: list[RuleOfThumb] = Field(default_factory=list)
    values: list[ValueRightDuty] = Field(default_factory=list)
    rights: list[ValueRightDuty] = Field(default_factory=list)
    duties: list[ValueRightDuty] = Field(default_factory=list)
    norms: list[Norm] = Field(default_factory=list)
    behaviors: list[BehaviorLink] = Field(
        default_factory=list, description="the behaviours judged by the statements written for this situation"
    )
    as_behavior: list[AnyStatement] = Field(
        default_factory=list,
        description="statements about a behaviour spelled like this situation (e.g. NormBank's 'leave a tip' "
        "for ValuePrism's situation 'Leave a tip'), outside this situation",
    )
    sources: list[str] = Field(default_factory=list)
    attribution: list[str] = Field(default_factory=list, description="what the sources' licences ask to credit")


def resolve_situation_id(key: str) -> str:
    """An id (with or without the ``situation/`` prefix) or the situation's text -> its id."""
    key = key.strip()
    if key.startswith(PREFIX):
        return key
    if key and key == slug(key) and len(key) <= _MAX_SLUG + 13:
        return PREFIX + key
    return situation_id(key)


def situation_view(
    store, key: str, *, review_states: frozenset[ReviewState] | None = None, limit: int = 500
) -> SituationView:
    """The situation ``key`` (id or text) with its linked statements (those in ``review_states``, default: the
    answering ones), at most ``limit`` per group. Raises ``NotFound``."""
    from normgraph.store.base import ANSWERING_STATES

    states = ANSWERING_STATES if review_states is None else review_states
    sid = resolve_situation_id(key)
    concept = store.get_concept(sid)
    if concept is None or concept.scheme is not ConceptScheme(SCHEME):
        raise NotFound(f"no situation {key!r}: situations are created by ingesting sources that have them",
                       {"situation": key, "id": sid})
    direct = [s for s in store.linked_statements(sid, limit=_MAX_LINKED) if s.review_state in states]
    view = SituationView(id=sid, text=concept.label, aliases=list(concept.alt_labels))
    # Each list holds the kind it is keyed by (lists are invariant, so the value type says only "a list").
    groups: dict[Kind, list[Any]] = {Kind.rule_of_thumb: view.rules_of_thumb, Kind.value: view.values, Kind.right: view.rights,
              Kind.duty: view.duties, Kind.norm: view.norms}
    behaviors: dict[str, None] = {}
    for st in direct:
        group = groups[st.kind]
        if len(group) < limit:
            group.append(st)
        if st.behavior is not None:
            behaviors[concept_id(ConceptScheme.behavior.value, st.behavior)] = None
    direct_ids = {s.id for s in direct}
    spelled = concept_id(ConceptScheme.behavior.value, normalise_text(concept.label))
    if store.get_concept(spelled) is not None:
        view.as_behavior = [
            s for s in store.linked_statements(spelled, limit=limit)
            if s.id not in direct_ids and s.review_state in states and s.behavior is not None
        ][:limit]
    for bid in list(behaviors)[:limit]:
        b = store.get_concept(bid)
        if b is not None:
            view.behaviors.append(BehaviorLink(id=bid, label=b.label, statements=store.count_linked(bid)))
    every = [*direct, *view.as_behavior]
    view.sources = sorted({s.provenance.source for s in every})
    licences: dict[str, set[str]] = {}
    for s in every:
        if s.provenance.licence:
            licences.setdefault(s.provenance.source, set()).add(s.provenance.licence)
    view.attribution = attribution_notices(view.sources, licences)
    return view


def kinds_of(view: SituationView) -> dict[str, int]:
    """How many statements of each kind the view holds (for summaries)."""
    return {
        k: n
        for k, n in (
            ("rule_of_thumb", len(view.rules_of_thumb)),
            ("value", len(view.values)),
            ("right", len(view.rights)),
            ("duty", len(view.duties)),
            ("norm", len(view.norms)),
        )
        if n
    }


__all__: Sequence[str] = ("situation_id", "resolve_situation_id", "situation_view", "SituationView", "BehaviorLink")
