"""Prompt assembly: budget, near-duplicates, grouping, conflicts, citations, formats, bad input."""

from __future__ import annotations

import json

import pytest

from normgraph.errors import InvalidInput
from normgraph.index import build
from normgraph.models import Constraint, Label, Norm, Provenance
from normgraph.prompting import TEMPLATE, build_prompt, estimate_tokens
from normgraph.retrieval import Retriever
from tests.ranking import assert_clearly_first, retriever_search

SITUATION = "I'm at my colleague's funeral and my phone rings"


def test_markdown_prompt_groups_and_cites_stored_items(retriever, store):
    result = build_prompt(retriever, SITUATION, k=6)
    assert result.template == TEMPLATE and result.format == "markdown"
    assert result.tokens == estimate_tokens(result.prompt) <= result.max_tokens
    assert 1 <= len(result.citations) <= 6
    assert_clearly_first(retriever_search(retriever, SITUATION), "rot-phone-funeral", result.citations[0].id)
    for c in result.citations:
        stored = store.get_statement(c.id)
        assert stored is not None and stored.text == c.text
        assert f"[{c.id}] {c.text}" in result.prompt
    # Groups appear in their fixed order, and only when they have items.
    headings = [line for line in result.prompt.splitlines() if line.startswith("### ")]
    order = ["### Norms", "### Rules of thumb", "### Values, rights and duties"]
    assert headings == [h for h in order if h in headings]
    kinds = {c.kind.value for c in result.citations}
    assert ("### Rules of thumb" in headings) == ("rule_of_thumb" in kinds)
    assert ("### Norms" in headings) == ("norm" in kinds)


def test_budget_is_respected_by_leaving_items_out(retriever):
    roomy = build_prompt(retriever, SITUATION, k=10, max_tokens=2000)
    two = build_prompt(retriever, SITUATION, k=2, max_tokens=2000)
    assert len(roomy.citations) > 2
    # A budget that holds exactly the two most relevant items keeps exactly those.
    tight = build_prompt(retriever, SITUATION, k=10, max_tokens=two.tokens)
    assert tight.tokens <= two.tokens < roomy.tokens
    assert [c.id for c in tight.citations] == [c.id for c in roomy.citations][:2]
    assert tight.omitted == len(roomy.citations) - 2
    assert tight.prompt == two.prompt
    with pytest.raises(InvalidInput, match="max_tokens"):
        build_prompt(retriever, SITUATION, max_tokens=10)
    with pytest.raises(InvalidInput, match="max_tokens"):
        build_prompt(retriever, SITUATION, max_tokens=10**6)
    with pytest.raises(InvalidInput, match="too small"):
        build_prompt(retriever, "x " * 300, max_tokens=64)


def _with_extra(store, home, embedder, extra):
    store.upsert_statements(extra)
    build(store, home, embedder)
    return Retriever.open(store, home, embedder=embedder)


def test_near_duplicates_are_removed(store, home, embedder):
    twin = Norm(id="n-shout-toddler-twin", text="In a restaurant, a toddler customer shouting is okay!", setting="restaurant",
                behavior="shout", label=Label.okay, provenance=Provenance(source="other"))
    r = _with_extra(store, home, embedder, [twin])
    try:
        hits = [h.id for h in r.retrieve("toddler shouting in a restaurant", 3).results]
        assert {"n-shout-toddler", "n-shout-toddler-twin"} <= set(hits)
        result = build_prompt(r, "toddler shouting in a restaurant", k=3)
        cited = [c.id for c in result.citations]
        assert len({"n-shout-toddler", "n-shout-toddler-twin"} & set(cited)) == 1
        assert result.near_duplicates_removed >= 1
        assert len(cited) == 3
    finally:
        r.close()


def test_conflicts_are_flagged(store, home, embedder):
    teen = Constraint(subject="person", attribute="age bracket", value="teen")
    customer = Constraint(subject="person", attribute="role", value="customer")
    okay = Norm(id="n-phone-okay", text="In a restaurant, a teen customer using a phone is okay.", setting="restaurant",
                behavior="use a phone", label=Label.okay, constraints=(customer, teen), provenance=Provenance(source="a"))
    rude = Norm(id="n-phone-rude", text="In a restaurant, a teen customer using a phone is unexpected.", setting="restaurant",
                behavior="use a phone", label=Label.unexpected, constraints=(teen, customer), provenance=Provenance(source="b"))
    # More specific than both: an override, not a conflict.
    toddler = Norm(id="n-phone-toddler", text="In a restaurant, a customer's toddler using a phone is unexpected.", setting="restaurant",
                   behavior="use a phone", label=Label.unexpected,
                   constraints=(customer, Constraint(subject="person", attribute="age bracket", value="toddler")),
                   provenance=Provenance(source="c"))
    r = _with_extra(store, home, embedder, [okay, rude, toddler])
    try:
        result = build_prompt(r, "teenager on their phone at a restaurant table", k=5, dedup_threshold=0.999)
        pairs = {frozenset(c.ids) for c in result.conflicts}
        assert frozenset({"n-phone-okay", "n-phone-rude"}) in pairs
        assert not any("n-phone-toddler" in p and "n-phone-okay" in p for p in pairs)  # frames exclude each other
        assert "### Conflicts" in result.prompt and "disagree about use a phone" in result.prompt
    finally:
        r.close()


def test_json_format(retriever, store):
    result = build_prompt(retriever, SITUATION, k=5, format="json", max_tokens=600)
    doc = json.loads(result.prompt)
    assert doc["template"] == TEMPLATE and doc["situation"] == SITUATION
    listed = [item["id"] for key in ("norms", "rules_of_thumb", "values_rights_duties") for item in doc[key]]
    assert sorted(listed) == sorted(c.id for c in result.citations)
    assert all(store.get_statement(i) is not None for i in listed)
    assert result.tokens <= 600
    with pytest.raises(InvalidInput, match="format"):
        build_prompt(retriever, SITUATION, format="yaml")


@pytest.mark.parametrize("situation", ["", "  ", "x" * 5000])
def test_bad_situations(retriever, situation):
    with pytest.raises(InvalidInput):
        build_prompt(retriever, situation)


def test_estimate_tokens_counts_words_and_marks():
    assert estimate_tokens("") == 0
    assert estimate_tokens("It's rude.") == 5  # It ' s rude .
    assert estimate_tokens("internationalisation") == 4
