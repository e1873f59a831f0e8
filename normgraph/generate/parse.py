"""Model output -> a grammar-valid proposal, or the reason it is not one.

The model is asked for ``{"behavior", "frame", "label"}``. What comes back is read leniently and checked
strictly: the frame must parse with the NormBank grammar (normgraph/frames/grammar.py) and hold together with
the caller's facts (frames/logic.py); the label must be one of the three. Repairs are made only where the
intended meaning is not in doubt — a missing closing brace, NormBank's label words (``taboo``), an unquoted
value, a given condition the model left out, the requested behaviour restated differently — and each repair is
recorded on the proposal. Anything else is invalid, and the caller retries with another seed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from normgraph.errors import InvalidInput
from normgraph.frames.grammar import parse_constraint, split_frame
from normgraph.frames.logic import check_compatible
from normgraph.ids import normalise_text
from normgraph.models import RELATION_PHRASES, Constraint, Label, Relation, Subject
from normgraph.verbalise import gerund

MAX_CONSTRAINTS = 8
MAX_BEHAVIOR_CHARS = 80
MAX_BEHAVIOR_WORDS = 10

LABEL_WORDS: dict[str, Label] = {
    "expected": Label.expected,
    "okay": Label.okay,
    "ok": Label.okay,
    "normal": Label.okay,
    "acceptable": Label.okay,
    "unexpected": Label.unexpected,
    "taboo": Label.unexpected,
}
_FIELD = {name: re.compile(rf'"{name}"\s*:\s*"([^"]*)"', re.IGNORECASE) for name in ("behavior", "frame", "label")}
_PHRASES = sorted(RELATION_PHRASES, key=len, reverse=True)
# Placeholders and instructions a small model copies from the question instead of choosing a behaviour.
_NOT_A_BEHAVIOR = re.compile(r"[\[\]{}()\"':;]|\b(choose|select|behaviou?r|setting|condition|none)\b", re.IGNORECASE)


class ProposalInvalid(InvalidInput):
    code = "proposal_invalid"


@dataclass
class Parsed:
    behavior: str
    constraints: tuple[Constraint, ...]
    label: Label
    repairs: list[str] = field(default_factory=list)


def parse_proposal(text: str, *, behavior: str | None, facts: tuple[Constraint, ...]) -> Parsed:
    """Read one proposal; ``behavior`` is the requested one (or None: the model chooses), ``facts`` the
    conditions it must keep. Raises ``ProposalInvalid`` saying what is wrong."""
    repairs: list[str] = []
    fields = _fields(text, repairs)
    label = _label(fields.get("label"), repairs)
    chosen = _behavior(fields.get("behavior"), behavior, repairs)
    constraints = _frame(fields.get("frame"), facts, repairs, chosen)
    return Parsed(behavior=chosen, constraints=constraints, label=label, repairs=repairs)


def _fields(text: str, repairs: list[str]) -> dict[str, Any]:
    start = text.find("{")
    if start < 0:
        raise ProposalInvalid("no JSON object in the output")
    end = text.find("}", start)
    candidate = text[start : end + 1] if end >= 0 else text[start:].rstrip().rstrip(",") + "}"
    try:
        obj = json.loads(candidate)
        if isinstance(obj, dict):
            if end < 0:
                repairs.append("closed the JSON object")
            return {k.lower(): v for k, v in obj.items() if isinstance(k, str)}
    except json.JSONDecodeError:
        pass
    found = {name: m.group(1) for name, rx in _FIELD.items() if (m := rx.search(text[start:]))}
    if not found:
        raise ProposalInvalid("the output is not a JSON object with behavior, frame and label")
    repairs.append("read the fields from malformed JSON")
    return found


def _label(value: Any, repairs: list[str]) -> Label:
    if not isinstance(value, str) or not value.strip():
        raise ProposalInvalid("no label")
    word = normalise_text(value).strip(" .!")
    label = LABEL_WORDS.get(word)
    if label is None:
        raise ProposalInvalid(f"unknown label {value!r}")
    if word != label.value:
        repairs.append(f"label {value!r} read as {label.value!r}")
    return label


def _behavior(value: Any, requested: str | None, repairs: list[str]) -> str:
    if requested is not None:
        if not isinstance(value, str) or normalise_text(value) != normalise_text(requested):
            repairs.append("kept the requested behaviour")
        return normalise_text(requested)
    if not isinstance(value, str) or not value.strip():
        raise ProposalInvalid("no behaviour")
    chosen = normalise_text(value).strip(" .")
    if len(chosen) > MAX_BEHAVIOR_CHARS or len(chosen.split()) > MAX_BEHAVIOR_WORDS:
        raise ProposalInvalid(f"behaviour {value!r} is not a short phrase")
    if _NOT_A_BEHAVIOR.search(chosen):
        raise ProposalInvalid(f"behaviour {value!r} is a placeholder, not a behaviour")
    return chosen


def _frame(value: Any, facts: tuple[Constraint, ...], repairs: list[str], behavior: str) -> tuple[Constraint, ...]:
    if value is None or value == "" or value == []:
        parts: list[str] = []
    elif isinstance(value, str):
        parts = split_frame(value)
    elif isinstance(value, list) and all(isinstance(p, str) for p in value):
        parts = [p for p in value if p.strip()]
    else:
        raise ProposalInvalid("the frame is neither a string nor a list of strings")
    if len(parts) == 1 and normalise_text(parts[0]) == "none":
        parts = []
    proposed = [_constraint(p, repairs) for p in parts]
    restating = [c for c in proposed if c not in facts and _restates(c, behavior)]
    if restating:
        # "[PERSON]'s behavior is 'eating food'" for the behaviour "eat food" says nothing the norm does not.
        repairs.append("dropped a condition restating the behaviour")
        proposed = [c for c in proposed if c not in restating]
    missing = [f for f in facts if f not in proposed]
    if missing:
        repairs.append(f"restored {len(missing)} given condition(s)")
    merged = tuple(dict.fromkeys([*facts, *proposed]))
    if len(merged) > MAX_CONSTRAINTS:
        raise ProposalInvalid(f"the frame has {len(merged)} conditions; at most {MAX_CONSTRAINTS}")
    try:
        check_compatible(merged)
    except InvalidInput as e:
        raise ProposalInvalid(f"the frame cannot hold: {e.message}") from None
    return merged


def _restates(c: Constraint, behavior: str) -> bool:
    return (
        c.subject is Subject.person
        and c.attribute == "behavior"
        and c.relation is Relation.is_
        and normalise_text(c.value) in (behavior, normalise_text(gerund(behavior)))
    )


def _constraint(part: str, repairs: list[str]) -> Constraint:
    try:
        return parse_constraint(part)
    except InvalidInput as first:
        quoted = _quote_value(part)
        if quoted is not None:
            try:
                c = parse_constraint(quoted)
            except InvalidInput:
                pass
            else:
                repairs.append(f"quoted the value of {part.strip()!r}")
                return c
        raise ProposalInvalid(f"condition {part.strip()!r}: {first.message}") from None


def _quote_value(part: str) -> str | None:
    """``[PERSON]'s role is customer`` -> ``[PERSON]'s role is 'customer'``; None when no relation is found."""
    low = part.lower()
    for phrase in _PHRASES:
        i = low.find(f" {phrase} ")
        if i >= 0:
            value = part[i + len(phrase) + 2 :].strip().strip("'\"")
            return f"{part[:i]} {phrase} '{value}'" if value else None
    return None
