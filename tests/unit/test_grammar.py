"""The NormBank constraint grammar: parsing, printing, paraphrases and the round trip over the real
vocabulary."""

from __future__ import annotations

import json

import pytest

from normgraph.errors import ConstraintSyntaxError
from normgraph.frames.grammar import coerce_constraints, format_constraint, format_frame, parse_constraint, parse_frame
from normgraph.models import CANONICAL_PHRASE, RELATION_PHRASES, Constraint, Relation, Subject

CATEGORY = {
    "the environment": (Subject.environment, None),
    "the PERSON PERFORMING BEHAVIOR's role": (Subject.person, "role"),
    "some OTHER PERSON's role": (Subject.other, "role"),
    "the PERSON PERFORMING BEHAVIOR's attribute": (Subject.person, None),
    "some OTHER PERSON's attribute": (Subject.other, None),
    "the PERSON PERFORMING BEHAVIOR is also doing": (Subject.person, "behavior"),
}


def test_round_trip_over_the_whole_vocabulary_under_every_relation(shared_data):
    vocab = json.loads((shared_data / "normbank-taxonomy" / "constraint_dict.json").read_text())
    assert set(vocab) == set(CATEGORY), "constraint_dict.json has categories this test does not know"
    checked = 0
    for category, names in vocab.items():
        subject, fixed_attribute = CATEGORY[category]
        for name, values in names.items():
            attribute = fixed_attribute or name
            for value in values:
                for relation in Relation:
                    c = Constraint(subject=subject, attribute=attribute, relation=relation, value=value)
                    text = format_constraint(c)
                    parsed = parse_constraint(text)
                    assert parsed == c, text
                    assert format_constraint(parsed) == text
                    checked += 1
    assert checked > 100_000


@pytest.mark.parametrize(
    "text, subject, attribute, relation, value",
    [
        ("[PERSON]'s role is 'customer'", "person", "role", "is", "customer"),
        ("[OTHER]'s role is 'chef'", "other", "role", "is", "chef"),
        ("event type is 'formal'", "environment", "event type", "is", "formal"),
        ("[PERSON]'s behavior is not 'wear headphones'", "person", "behavior", "is not", "wear headphones"),
        ("[PERSON]'s age bracket is less than or equal to 'teen'", "person", "age bracket", "<=", "teen"),
        ("[PERSON]'s age bracket is below 'teen'", "person", "age bracket", "<", "teen"),
        ("[PERSON]'s age bracket is not greater than 'teen'", "person", "age bracket", "<=", "teen"),
        ("[PERSON]'s age bracket is at least 'young adult'", "person", "age bracket", ">=", "young adult"),
        ("[OTHER]'s age bracket is greater than 'teen'", "other", "age bracket", ">", "teen"),
        ("[PERSON]'s behavior is 'check people's passports'", "person", "behavior", "is", "check people's passports"),
        ('time of day is "night"', "environment", "time of day", "is", "night"),
        ("  [person]'s  Role  is   'customer' ", "person", "role", "is", "customer"),
    ],
)
def test_parse(text, subject, attribute, relation, value):
    c = parse_constraint(text)
    assert (c.subject.value, c.attribute, c.relation.value, c.value) == (subject, attribute, relation, value)


def test_every_paraphrase_parses_to_its_relation():
    for phrase, relation in RELATION_PHRASES.items():
        assert parse_constraint(f"[PERSON]'s age bracket {phrase} 'teen'").relation is relation
    for relation, phrase in CANONICAL_PHRASE.items():
        assert RELATION_PHRASES[phrase] is relation


def test_and_conjunctions_and_trailing_and():
    f = parse_frame("[PERSON]'s role is 'customer' [AND] [OTHER]'s role is 'chef' [AND] event type is 'formal' [AND] ")
    assert [c.subject.value for c in f] == ["person", "other", "environment"]
    assert parse_frame(format_frame(f)) == f
    assert parse_frame("") == () and parse_frame(" [AND] ") == ()


@pytest.mark.parametrize(
    "bad",
    [
        "role is customer",  # unquoted value
        "[PERSON]'s role 'customer'",  # no relation
        "[CHILD]'s role is 'customer'",  # unknown subject
        "[PERSON]'s role is ''",  # empty value
        "'customer'",
        "[PERSON]'s role is 'customer",  # unterminated quote
    ],
)
def test_malformed_constraints_are_rejected_with_the_text(bad):
    with pytest.raises(ConstraintSyntaxError) as e:
        parse_frame(bad)
    assert e.value.details["constraint"] is not None


def test_structured_form():
    mixed = coerce_constraints(
        [
            "[PERSON]'s role is 'customer'",
            {"subject": "person", "attribute": "age bracket", "relation": "less than or equal to", "value": "teen"},
            {"subject": "environment", "attribute": "noise", "relation": "is not", "value": "loud"},
        ]
    )
    assert format_frame(mixed) == (
        "[PERSON]'s role is 'customer' [AND] [PERSON]'s age bracket is less than or equal to 'teen' "
        "[AND] noise is not 'loud'"
    )
    assert mixed[1].model_dump(mode="json") == {"subject": "person", "attribute": "age bracket", "relation": "<=", "value": "teen"}
    with pytest.raises(ConstraintSyntaxError):
        coerce_constraints([{"subject": "dog", "attribute": "role", "value": "x"}])
    with pytest.raises(ConstraintSyntaxError):
        coerce_constraints([42])
