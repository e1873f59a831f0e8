"""The verbaliser writes the stored text of every NormBank norm: exact sentences for the shapes NormBank uses."""

from __future__ import annotations

import pytest

from normgraph.frames.grammar import parse_frame
from normgraph.models import Constraint, Label
from normgraph.verbalise import gerund, ing_form, verbalise_norm, with_article


@pytest.mark.parametrize(
    ("setting", "behavior", "frame", "label", "sentence"),
    [
        (
            "restaurant", "shout",
            "[PERSON]'s role is 'customer' [AND] [PERSON]'s age bracket is 'toddler'", "okay",
            "In a restaurant, a toddler customer shouting is okay.",
        ),
        (
            "restaurant", "drink alcohol",
            "[PERSON]'s role is 'customer' [AND] [PERSON]'s age bracket is less than or equal to 'teen'", "unexpected",
            "In a restaurant, a customer aged teen or younger drinking alcohol is unexpected.",
        ),
        (
            "restaurant", "drink alcohol",
            "[PERSON]'s role is 'customer' [AND] [PERSON]'s age bracket is greater than or equal to 'young adult'",
            "okay",
            "In a restaurant, a customer aged young adult or older drinking alcohol is okay.",
        ),
        (
            "bus", "listen to music",
            "[PERSON]'s role is 'passenger' [AND] [PERSON]'s behavior is not 'wear headphones'", "unexpected",
            "On a bus, a passenger listening to music while not wearing headphones is unexpected.",
        ),
        (
            "restaurant", "shout",
            "[PERSON]'s role is 'server' [AND] [PERSON]'s behavior is 'warn about a fire'", "expected",
            "In a restaurant, a server shouting while warning about a fire is expected.",
        ),
        (
            "restaurant", "add salt to your food",
            "[PERSON]'s role is 'customer' [AND] [OTHER]'s role is 'chef' [AND] event type is 'formal'", "unexpected",
            "In a restaurant, when a chef is present and the event type is formal, "
            "a customer adding salt to their food is unexpected.",
        ),
        (
            "restaurant", "leave a tip",
            "[PERSON]'s role is 'customer' [AND] country is 'japan'", "unexpected",
            "In a restaurant in Japan, a customer leaving a tip is unexpected.",
        ),
        (
            "library", "sleep", "[PERSON]'s role is 'patron' [AND] time of day is 'night'", "unexpected",
            "In a library at night, a patron sleeping is unexpected.",
        ),
        (
            "hospital", "wash your hands",
            "[PERSON]'s role is 'visitor' [AND] [OTHER]'s condition or state is 'sick'", "expected",
            "In a hospital, when someone who is sick is present, a visitor washing their hands is expected.",
        ),
        (
            "church or chapel", "wear a hat", "[PERSON]'s role is 'worshipper' [AND] [PERSON]'s gender is 'man'",
            "unexpected",
            "In a church or chapel, a male worshipper wearing a hat is unexpected.",
        ),
        (
            "office", "wear shorts",
            "[PERSON]'s role is 'employee' [AND] weather is 'hot' [AND] day of the week is 'Friday'", "okay",
            "In an office on Friday, when the weather is hot, an employee wearing shorts is okay.",
        ),
        (
            "library", "eat food", "[PERSON]'s role is 'patron' [AND] [PERSON]'s medical condition is 'diabetes'",
            "okay",
            "In a library, a patron with diabetes eating food is okay.",
        ),
        (
            "office", "sit", "[PERSON]'s role is not 'manager' [AND] noise is not 'loud'", "okay",
            "In an office, when the noise is not loud, someone who is not a manager sitting is okay.",
        ),
        ("park", "run", "", "expected", "In a park, someone running is expected."),
        (None, "lie", "[PERSON]'s country is 'united states'", "okay", "Someone from United States lying is okay."),
    ],
)
def test_sentences(setting, behavior, frame, label, sentence):
    assert verbalise_norm(setting, behavior, parse_frame(frame), Label(label)) == sentence


def test_constraint_order_does_not_change_the_sentence():
    a = parse_frame("[PERSON]'s role is 'customer' [AND] noise is 'loud' [AND] [PERSON]'s religion is 'Islam'")
    assert verbalise_norm("cafe", "sing", a, "okay") == verbalise_norm("cafe", "sing", tuple(reversed(a)), "okay")


def test_other_person_also_doing_is_a_clause_of_that_person():
    frame = (
        Constraint(subject="other", attribute="role", value="passenger"),
        Constraint(subject="other", attribute="behavior", value="sleep"),
    )
    assert verbalise_norm("train", "talk on the phone", frame, "unexpected") == (
        "On a train, when a passenger who is sleeping is present, someone talking on the phone is unexpected."
    )


@pytest.mark.parametrize(
    ("verb", "ing"),
    [("shout", "shouting"), ("make", "making"), ("sit", "sitting"), ("lie", "lying"), ("see", "seeing"),
     ("bring", "bringing"), ("working", "working"), ("cry", "crying"), ("admit", "admitting"),
     ("visit", "visiting"), ("panic", "panicking"), ("be", "being"), ("fix", "fixing")],
)
def test_ing_form(verb, ing):
    assert ing_form(verb) == ing


def test_gerund_moves_the_actor_to_the_third_person():
    assert gerund("brush your teeth by yourself") == "brushing their teeth by themselves"


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [("office", "an office"), ("hospital", "a hospital"), ("university", "a university"),
     ("hour", "an hour"), ("a coach", "a coach"), ("the judges", "the judges")],
)
def test_article(phrase, expected):
    assert with_article(phrase) == expected
