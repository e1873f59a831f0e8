"""Three-valued satisfaction, entailment and compatibility of constraints.

Each constraint on a single-valued attribute denotes the set of values it allows: ``is v`` allows {v},
``is not v`` everything but v, ``<= teen`` the scale values up to teen. Facts about one (subject, attribute)
intersect to one such set F. A constraint allowing C is then *satisfied* when F ⊆ C, *violated* when F ∩ C is
empty, and *unknown* otherwise — in particular when there is no fact at all. Unknown is never read as
satisfied.

Multi-valued attributes (the actor's "also doing", event type …) hold a set of values: the facts say which
values are in it (``is``) and which are not (``is not``); nothing follows about the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from typing import Callable, Iterable, Sequence

from normgraph.errors import IncompatibleConstraints, InvalidInput
from normgraph.frames.grammar import format_constraint
from normgraph.frames.vocabulary import ORDINAL_SCALES, is_single_valued, rank, scale_of
from normgraph.ids import normalise_text
from normgraph.models import Constraint, Relation, Subject

_ORDER_RELATIONS = {Relation.lt, Relation.le, Relation.gt, Relation.ge}


class Truth(str, Enum):
    satisfied = "satisfied"
    violated = "violated"
    unknown = "unknown"


@dataclass(frozen=True)
class ValueSet:
    """``positive``: the value is one of ``values``; otherwise: the value is none of ``values``."""

    positive: bool
    values: frozenset[str]

    def intersect(self, other: "ValueSet") -> "ValueSet":
        if self.positive and other.positive:
            return ValueSet(True, self.values & other.values)
        if self.positive:
            return ValueSet(True, self.values - other.values)
        if other.positive:
            return ValueSet(True, other.values - self.values)
        return ValueSet(False, self.values | other.values)

    @property
    def empty(self) -> bool:
        return self.positive and not self.values

    def subset_of(self, other: "ValueSet") -> bool:
        if self.positive:
            return self.values <= other.values if other.positive else not (self.values & other.values)
        # An open-domain complement is never inside a finite set; ordinal sets are always positive.
        return (not other.positive) and other.values <= self.values

    def disjoint_from(self, other: "ValueSet") -> bool:
        return self.intersect(other).empty


def _key(c: Constraint) -> tuple[Subject, str]:
    return (c.subject, c.attribute)


@lru_cache(maxsize=65536)
def value_set(c: Constraint) -> ValueSet | None:
    """The values ``c`` allows, or None when that is undefined (an order relation off an ordinal scale)."""
    v = normalise_text(c.value)
    scale = scale_of(c.attribute)
    if c.relation is Relation.is_:
        return ValueSet(True, frozenset({v}))
    if c.relation is Relation.is_not:
        if scale is not None and rank(c.attribute, v) is not None:
            return ValueSet(True, frozenset(normalise_text(x) for x in scale if normalise_text(x) != v))
        return ValueSet(False, frozenset({v}))
    r = rank(c.attribute, v)
    if scale is None or r is None:
        return None
    keep: Callable[[int], bool] = {
        Relation.lt: lambda i: i < r,
        Relation.le: lambda i: i <= r,
        Relation.gt: lambda i: i > r,
        Relation.ge: lambda i: i >= r,
    }[c.relation]
    return ValueSet(True, frozenset(normalise_text(x) for i, x in enumerate(scale) if keep(i)))


def check_decidable(c: Constraint) -> None:
    """Raise ``InvalidInput`` for a constraint that cannot mean anything (used on caller facts): an order
    relation off an ordinal attribute, or a value that is not on the attribute's scale."""
    if c.relation in _ORDER_RELATIONS and scale_of(c.attribute) is None:
        raise InvalidInput(
            f"{format_constraint(c)!r}: the relation {c.relation.value!r} needs an ordinal attribute "
            f"({', '.join(sorted(ORDINAL_SCALES))})",
            {"constraint": format_constraint(c)},
        )
    if scale_of(c.attribute) is not None:
        if rank(c.attribute, c.value) is None:
            raise InvalidInput(
                f"{format_constraint(c)!r}: {c.value!r} is not on the {c.attribute} scale "
                f"({', '.join(ORDINAL_SCALES[c.attribute])})",
                {"constraint": format_constraint(c)},
            )


class FactSet:
    """Facts about a situation, indexed for satisfaction checks."""

    __slots__ = ("_single", "_asserted", "_denied", "constraints")

    def __init__(self, constraints: Iterable[Constraint], *, strict: bool = True, decidable: bool | None = None) -> None:
        """``strict``: raise on constraints that cannot hold together; ``decidable`` (default: ``strict``): also
        on constraints that cannot mean anything (``check_decidable``)."""
        self.constraints: tuple[Constraint, ...] = tuple(constraints)
        self._single: dict[tuple[Subject, str], tuple[ValueSet, list[Constraint]]] = {}
        self._asserted: dict[tuple[Subject, str], dict[str, Constraint]] = {}
        self._denied: dict[tuple[Subject, str], dict[str, Constraint]] = {}
        check = strict if decidable is None else decidable
        for c in self.constraints:
            if check:
                check_decidable(c)
            self._add(c, strict)

    def _add(self, c: Constraint, strict: bool) -> None:
        key = _key(c)
        if is_single_valued(c.subject, c.attribute):
            vs = value_set(c)
            if vs is None:
                return
            prev = self._single.get(key)
            if prev is None:
                self._single[key] = (vs, [c])
                return
            merged = prev[0].intersect(vs)
            if merged.empty and strict:
                clash = next((p for p in prev[1] if value_set(p).disjoint_from(vs)), None)  # type: ignore[union-attr]
                others = [clash] if clash is not None else prev[1]
                names = [format_constraint(x) for x in others] + [format_constraint(c)]
                raise IncompatibleConstraints(
                    "incompatible constraints: " + " AND ".join(repr(n) for n in names) + " cannot all hold",
                    {"constraints": names},
                )
            self._single[key] = (merged, prev[1] + [c])
            return
        v = normalise_text(c.value)
        if c.relation is Relation.is_:
            if strict and v in self._denied.get(key, {}):
                self._incompatible(self._denied[key][v], c)
            self._asserted.setdefault(key, {})[v] = c
        elif c.relation is Relation.is_not:
            if strict and v in self._asserted.get(key, {}):
                self._incompatible(self._asserted[key][v], c)
            self._denied.setdefault(key, {})[v] = c

    @staticmethod
    def _incompatible(a: Constraint, b: Constraint) -> None:
        names = [format_constraint(a), format_constraint(b)]
        raise IncompatibleConstraints(
            f"incompatible constraints: {names[0]!r} AND {names[1]!r} cannot both hold", {"constraints": names}
        )

    def truth(self, c: Constraint) -> Truth:
        key = _key(c)
        if is_single_valued(c.subject, c.attribute):
            known = self._single.get(key)
            wanted = value_set(c)
            if known is None or wanted is None:
                return Truth.unknown
            if known[0].subset_of(wanted):
                return Truth.satisfied
            if known[0].disjoint_from(wanted):
                return Truth.violated
            return Truth.unknown
        v = normalise_text(c.value)
        if c.relation is Relation.is_:
            if v in self._asserted.get(key, ()):
                return Truth.satisfied
            if v in self._denied.get(key, ()):
                return Truth.violated
        elif c.relation is Relation.is_not:
            if v in self._denied.get(key, ()):
                return Truth.satisfied
            if v in self._asserted.get(key, ()):
                return Truth.violated
        return Truth.unknown


def check_compatible(constraints: Sequence[Constraint], *, decidable: bool = True) -> None:
    """Raise ``IncompatibleConstraints`` naming both sides when the constraints cannot hold together (and, with
    ``decidable``, ``InvalidInput`` for one that cannot mean anything). Ingest checks only the first: a stored
    frame may use an attribute this version has no scale for, but never one no facts could satisfy."""
    FactSet(constraints, strict=True, decidable=decidable)


@lru_cache(maxsize=65536)
def _as_facts(constraints: tuple[Constraint, ...]) -> FactSet:
    return FactSet(constraints, strict=False)


def entails(a: tuple[Constraint, ...], b: tuple[Constraint, ...]) -> bool:
    """Every constraint of ``b`` is implied by ``a``'s constraints taken together."""
    if not b:
        return True
    facts = _as_facts(a)
    return all(facts.truth(c) is Truth.satisfied for c in b)
