"""Three-valued satisfaction, entailment and compatibility."""

from __future__ import annotations

import pytest

from normgraph.errors import IncompatibleConstraints
from normgraph.frames.grammar import parse_constraint, parse_frame
from normgraph.frames.logic import FactSet, Truth, check_compatible, entails

S, V, U = Truth.satisfied, Truth.violated, Truth.unknown


@pytest.mark.parametrize(
    "facts, constraint, truth",
    [
        ("", "[PERSON]'s role is 'customer'", U),
        ("[PERSON]'s role is 'customer'", "[PERSON]'s role is 'customer'", S),
        ("[PERSON]'s role is 'Customer'", "[PERSON]'s role is 'customer'", S),
        ("[PERSON]'s role is 'server'", "[PERSON]'s role is 'customer'", V),
        ("[PERSON]'s role is 'server'", "[PERSON]'s role is not 'customer'", S),
        ("[PERSON]'s role is not 'customer'", "[PERSON]'s role is 'customer'", V),
        ("[PERSON]'s role is not 'customer'", "[PERSON]'s role is 'server'", U),
        ("[PERSON]'s role is not 'customer'", "[PERSON]'s role is not 'customer'", S),
        ("[OTHER]'s role is 'customer'", "[PERSON]'s role is 'customer'", U),
        ("[PERSON]'s age bracket is 'teen'", "[PERSON]'s age bracket is less than or equal to 'teen'", S),
        ("[PERSON]'s age bracket is 'teen'", "[PERSON]'s age bracket is less than 'teen'", V),
        ("[PERSON]'s age bracket is 'senior citizen'", "[PERSON]'s age bracket is greater than 'older adult'", S),
        ("[PERSON]'s age bracket is less than 'teen'", "[PERSON]'s age bracket is less than or equal to 'teen'", S),
        ("[PERSON]'s age bracket is less than 'teen'", "[PERSON]'s age bracket is 'young adult'", V),
        ("[PERSON]'s age bracket is less than 'teen'", "[PERSON]'s age bracket is 'toddler'", U),
        ("[PERSON]'s age bracket is not 'infant' [AND] [PERSON]'s age bracket is less than 'preschooler'", "[PERSON]'s age bracket is 'toddler'", S),
        ("[PERSON]'s behavior is 'eating'", "[PERSON]'s behavior is 'eating'", S),
        ("[PERSON]'s behavior is 'eating'", "[PERSON]'s behavior is 'drinking'", U),
        ("[PERSON]'s behavior is 'eating'", "[PERSON]'s behavior is not 'drinking'", U),
        ("[PERSON]'s behavior is 'eating'", "[PERSON]'s behavior is not 'eating'", V),
        ("[PERSON]'s behavior is not 'eating'", "[PERSON]'s behavior is not 'eating'", S),
        ("time of day is 'night'", "time of day is 'morning'", V),
        ("event type is 'formal'", "event type is 'religious'", U),
        ("country is 'japan'", "country is not 'united states'", S),
    ],
)
def test_truth(facts, constraint, truth):
    assert FactSet(parse_frame(facts)).truth(parse_constraint(constraint)) is truth


@pytest.mark.parametrize(
    "frame",
    [
        "[PERSON]'s gender is 'man' [AND] [PERSON]'s gender is 'woman'",
        "[PERSON]'s role is 'customer' [AND] [PERSON]'s role is not 'customer'",
        "[PERSON]'s age bracket is less than 'teen' [AND] [PERSON]'s age bracket is greater than 'young adult'",
        "[PERSON]'s behavior is 'eating' [AND] [PERSON]'s behavior is not 'eating'",
        "country is 'japan' [AND] country is 'france'",
    ],
)
def test_incompatible_frames_name_both_sides(frame):
    a, b = frame.split(" [AND] ")
    with pytest.raises(IncompatibleConstraints) as e:
        check_compatible(parse_frame(frame))
    assert e.value.details["constraints"] == [a, b]


def test_compatible_frames():
    check_compatible(parse_frame("[PERSON]'s gender is 'man' [AND] [OTHER]'s gender is 'woman' [AND] event type is 'formal' [AND] event type is 'religious'"))
    check_compatible(parse_frame("[PERSON]'s behavior is 'eating' [AND] [PERSON]'s behavior is 'talking'"))


def test_entailment():
    customer = parse_frame("[PERSON]'s role is 'customer'")
    toddler = parse_frame("[PERSON]'s role is 'customer' [AND] [PERSON]'s age bracket is 'toddler'")
    young = parse_frame("[PERSON]'s role is 'customer' [AND] [PERSON]'s age bracket is less than or equal to 'teen'")
    assert entails(toddler, customer) and not entails(customer, toddler)
    assert entails(toddler, young) and not entails(young, toddler)
    assert entails(customer, ()) and entails((), ())
    assert not entails((), customer)
