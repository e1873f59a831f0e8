"""Model output -> grammar-valid proposals: what is taken, what is repaired (and said so), what is refused."""

from __future__ import annotations

import pytest

from normgraph.frames.grammar import format_frame, parse_frame
from normgraph.generate.parse import ProposalInvalid, parse_proposal
from normgraph.models import Label

PATRON = parse_frame("[PERSON]'s role is 'patron'")


def test_a_well_formed_proposal_is_taken_as_written() -> None:
    p = parse_proposal(
        '{"behavior": "eat food", "frame": "[PERSON]\'s role is \'patron\' [AND] time of day is \'night\'", "label": "unexpected"}',
        behavior="eat food",
        facts=PATRON,
    )
    assert p.label is Label.unexpected and p.behavior == "eat food" and p.repairs == []
    assert format_frame(p.constraints) == "[PERSON]'s role is 'patron' [AND] time of day is 'night'"


def test_safe_repairs_are_made_and_recorded() -> None:
    # No closing brace, NormBank's word for the label, an unquoted value, the given condition left out.
    p = parse_proposal('{"behavior": "eat food", "frame": "time of day is night", "label": "taboo"', behavior=None, facts=PATRON)
    assert p.label is Label.unexpected
    assert format_frame(p.constraints) == "[PERSON]'s role is 'patron' [AND] time of day is 'night'"
    assert len(p.repairs) == 4, p.repairs


def test_the_requested_behaviour_is_kept() -> None:
    p = parse_proposal('{"behavior": "eating", "frame": "", "label": "okay"}', behavior="eat food", facts=PATRON)
    assert p.behavior == "eat food" and "kept the requested behaviour" in p.repairs
    assert p.constraints == PATRON


def test_a_condition_restating_the_behaviour_is_dropped() -> None:
    p = parse_proposal(
        '{"behavior": "eat food", "frame": "[PERSON]\'s role is \'patron\' [AND] [PERSON]\'s behavior is \'eating food\'", "label": "okay"}',
        behavior="eat food",
        facts=PATRON,
    )
    assert p.constraints == PATRON and p.repairs == ["dropped a condition restating the behaviour"]


@pytest.mark.parametrize(
    ("output", "reason"),
    [
        ("Here is a new norm for the library.", "no JSON object"),
        ('{"behavior": "eat food", "frame": "[PERSON]\'s role is \'patron\'"}', "no label"),
        ('{"behavior": "eat food", "frame": "", "label": "rude"}', "unknown label"),
        ('{"behavior": "eat food", "frame": "patron_behavior_eating", "label": "okay"}', "not a NormBank constraint"),
        ('{"behavior": "eat food", "frame": "[MALE]\'s age is \'18\'", "label": "okay"}', "unknown subject"),
        ('{"behavior": "eat food", "frame": "[PERSON]\'s role is \'librarian\'", "label": "okay"}', "cannot hold"),
    ],
)
def test_invalid_output_is_refused_with_its_reason(output: str, reason: str) -> None:
    with pytest.raises(ProposalInvalid) as e:
        parse_proposal(output, behavior="eat food", facts=PATRON)
    assert reason in e.value.message


@pytest.mark.parametrize("behavior", ["(choose one)", "select one", "a behavior of the patron", "x" * 100])
def test_a_chosen_behaviour_must_be_a_short_phrase_not_a_placeholder(behavior: str) -> None:
    with pytest.raises(ProposalInvalid):
        parse_proposal(f'{{"behavior": "{behavior}", "frame": "", "label": "okay"}}', behavior=None, facts=PATRON)
