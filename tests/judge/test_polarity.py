"""Reading a norm's wording: its polarity and the behaviour it is about, and negating it."""

from __future__ import annotations

import pytest

from normgraph.judge.polarity import negate, read_norm

CASES = [
    ("It's good to help your friends.", "obligatory", "help your friends"),
    ("It is rude to interrupt people.", "prohibitive", "interrupt people"),
    ("You shouldn't lie to your parents.", "prohibitive", "lie to your parents"),
    ("You should thank the host.", "obligatory", "thank the host"),
    ("It's okay to cry at a funeral.", "permissive", "cry at a funeral"),
    ("It's not okay to lead someone on.", "prohibitive", "lead someone on"),
    ("It's not rude to ask for the bill.", "permissive", "ask for the bill"),
    ("It's not good to skip breakfast.", "prohibitive", "skip breakfast"),
    ("It's wrong to not help your friends.", "obligatory", "help your friends"),
    ("In this community it is expected to eat with your hands.", "obligatory", "eat with your hands"),
    ("In our family, you shouldn't wear shoes indoors.", "prohibitive", "wear shoes indoors"),
    ("Stealing money is never acceptable.", "prohibitive", "Stealing money"),
    ("In a restaurant, a customer shouting is unexpected.", "prohibitive", "In a restaurant, a customer shouting"),
    ("In a restaurant, a toddler shouting is okay, since small children cannot keep quiet.", "permissive", "In a restaurant, a toddler shouting"),
    ("Don't talk with your mouth full.", "prohibitive", "talk with your mouth full"),
    ("Secondhand smoke should be avoided.", "prohibitive", "Secondhand smoke"),
]


@pytest.mark.parametrize(("text", "polarity", "behavior"), CASES)
def test_read_norm(text: str, polarity: str, behavior: str) -> None:
    read = read_norm(text)
    assert (read.polarity, read.behavior) == (polarity, behavior)
    assert read.cue


def test_a_norm_without_a_cue_has_no_polarity_and_keeps_its_words() -> None:
    read = read_norm("Guests take off their shoes at the door.")
    assert read.polarity is None and read.cue is None
    assert read.behavior == "Guests take off their shoes at the door"


@pytest.mark.parametrize(("text", "_pol", "_b"), CASES[:11])
@pytest.mark.parametrize("variant", range(6))
def test_negating_keeps_the_behaviour_and_turns_the_force(text: str, _pol: str, _b: str, variant: int) -> None:
    original = read_norm(text)
    negated = negate(text, variant)
    assert negated is not None
    again = read_norm(negated[0])
    assert again.polarity == negated[1]
    assert again.behavior.lower() == original.behavior.lower()
    # an obligation or a permission becomes a prohibition; a prohibition an obligation
    assert again.polarity == ("obligatory" if original.polarity == "prohibitive" else "prohibitive")
