"""Parse and print NormBank constraint strings (DESIGN §2).

    [PERSON]'s role is 'customer' [AND] [PERSON]'s age bracket is less than or equal to 'teen'
    [OTHER]'s role is 'chef' [AND] event type is 'formal'

``[PERSON]`` is the actor, ``[OTHER]`` another person present, an unprefixed attribute is the environment.
Values are quoted; a value may itself contain quotes (``'check people's passports'``), so the value runs from
the first quote after the relation to the matching quote at the end of the constraint.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Sequence

from pydantic import ValidationError

from normgraph.errors import ConstraintSyntaxError
from normgraph.models import CANONICAL_PHRASE, RELATION_PHRASES, Constraint, Subject

AND = " [AND] "
_AND_SPLIT = re.compile(r"\s*\[AND\]\s*")
_SUBJECT_TAG = {"PERSON": Subject.person, "OTHER": Subject.other}
_TAG_OF = {Subject.person: "[PERSON]'s ", Subject.other: "[OTHER]'s ", Subject.environment: ""}

# Longest phrases first so "is less than or equal to" wins over "is less than" and "is".
_REL_ALT = "|".join(re.escape(p) for p in sorted(RELATION_PHRASES, key=len, reverse=True))
_CONSTRAINT = re.compile(
    r"^\s*(?:\[(?P<tag>[A-Za-z]+)\]\s*'s\s+)?"
    r"(?P<attr>[^'\"\[\]]+?)\s+"
    r"(?P<rel>" + _REL_ALT + r")\s+"
    r"(?P<q>['\"])(?P<value>.*)(?P=q)\s*$",
    re.IGNORECASE,
)


def parse_constraint(text: str) -> Constraint:
    """Parse one constraint; raise ``ConstraintSyntaxError`` saying what is wrong."""
    if not isinstance(text, str) or not text.strip():
        raise ConstraintSyntaxError("empty constraint", {"constraint": text})
    m = _CONSTRAINT.match(text)
    if m is None:
        raise ConstraintSyntaxError(
            f"not a NormBank constraint: {text!r} (expected e.g. \"[PERSON]'s role is 'customer'\" "
            "or \"time of day is 'night'\")",
            {"constraint": text},
        )
    tag = m.group("tag")
    if tag is None:
        subject = Subject.environment
    else:
        try:
            subject = _SUBJECT_TAG[tag.upper()]
        except KeyError:
            raise ConstraintSyntaxError(
                f"unknown subject [{tag}] in {text!r}: use [PERSON] or [OTHER]", {"constraint": text}
            ) from None
    value = m.group("value").strip()
    if not value:
        raise ConstraintSyntaxError(f"empty value in {text!r}", {"constraint": text})
    try:
        return Constraint(
            subject=subject,
            attribute=m.group("attr").strip().lower(),
            relation=RELATION_PHRASES[" ".join(m.group("rel").lower().split())],
            value=value,
        )
    except ValidationError as e:  # e.g. a lone surrogate, which no store or answer can hold
        reason = e.errors()[0].get("msg", "invalid") if e.errors() else "invalid"
        raise ConstraintSyntaxError(f"invalid constraint: {reason}", {"constraint": text}) from None


def split_frame(text: str) -> list[str]:
    """The constraint strings of a frame joined by ``[AND]``; empty parts (NormBank writes a trailing ``[AND]``)
    are skipped."""
    return [p for p in _AND_SPLIT.split(text.strip()) if p.strip()]


def parse_frame(text: str | None) -> tuple[Constraint, ...]:
    """Parse constraints joined by ``[AND]``."""
    if text is None:
        return ()
    return tuple(parse_constraint(p) for p in split_frame(text))


def format_constraint(c: Constraint) -> str:
    return f"{_TAG_OF[c.subject]}{c.attribute} {CANONICAL_PHRASE[c.relation]} '{c.value}'"


def format_frame(constraints: Iterable[Constraint]) -> str:
    return AND.join(format_constraint(c) for c in constraints)


def coerce_constraints(items: Sequence[str | dict[str, Any] | Constraint] | str | None) -> tuple[Constraint, ...]:
    """The API and JSONL accept a NormBank string, or a list of strings and/or structured objects."""
    if items is None:
        return ()
    if isinstance(items, str):
        return parse_frame(items)
    out: list[Constraint] = []
    for item in items:
        if isinstance(item, Constraint):
            out.append(item)
        elif isinstance(item, str):
            out.extend(parse_frame(item))
        elif isinstance(item, dict):
            try:
                out.append(Constraint.model_validate(item))
            except ValueError as e:
                raise ConstraintSyntaxError(f"invalid structured constraint {item!r}: {e}", {"constraint": item}) from None
        else:
            raise ConstraintSyntaxError(f"a constraint must be a string or an object, not {type(item).__name__}")
    return tuple(out)
