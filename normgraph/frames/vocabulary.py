"""What the constraint vocabulary means: which attributes are ordinal, which take a single value."""

from __future__ import annotations

from normgraph.ids import normalise_text
from normgraph.models import Subject

# Ordinal scales make <, <=, >, >= meaningful. Values are compared in normalised form. Time of day is not
# here on purpose: it is cyclic, so "before evening" has no single reading.
ORDINAL_SCALES: dict[str, tuple[str, ...]] = {
    "age bracket": (
        "infant",
        "toddler",
        "preschooler",
        "gradeschooler",
        "teen",
        "young adult",
        "middle-aged adult",
        "older adult",
        "senior citizen",
    ),
}

# A person has one role, one age bracket, one gender, one country in a frame; the environment has one time of
# day, one country, one season … Multi-valued attributes (behavior: the actor may be doing several things;
# event type; holiday) are not here.
SINGLE_VALUED: dict[Subject, frozenset[str]] = {
    Subject.person: frozenset({"role", "age bracket", "gender", "country"}),
    Subject.other: frozenset({"role", "age bracket", "gender", "country"}),
    Subject.environment: frozenset(
        {
            "country",
            "time of day",
            "day of the week",
            "season",
            "time period",
            "temperature",
            "lighting",
            "noise",
            "attendance",
            "population density",
            "privacy",
            "cleanliness",
        }
    ),
}

_RANKS: dict[str, dict[str, int]] = {
    attr: {normalise_text(v): i for i, v in enumerate(scale)} for attr, scale in ORDINAL_SCALES.items()
}


def is_single_valued(subject: Subject, attribute: str) -> bool:
    return attribute in SINGLE_VALUED[subject] or attribute in ORDINAL_SCALES


def scale_of(attribute: str) -> tuple[str, ...] | None:
    return ORDINAL_SCALES.get(attribute)


def rank(attribute: str, value: str) -> int | None:
    ranks = _RANKS.get(attribute)
    return None if ranks is None else ranks.get(normalise_text(value))
