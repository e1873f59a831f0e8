"""Linking across sources: one node per behaviour and per situation, aliases kept, and a situation reaches its
rules of thumb, values/rights/duties and norms through the graph."""

from __future__ import annotations

import pytest

from ingest.sources.moral_stories import MoralStories
from ingest.sources.normbank import NormBankCsv
from ingest.sources.social_chem import SocialChem
from ingest.sources.valueprism import ValuePrism
from normgraph.errors import NotFound
from normgraph.ids import concept_id
from normgraph.models import ConceptScheme, Kind
from normgraph.situations import situation_id, situation_view

from .conftest import FIXTURES

COOKING = "lying to my friend about liking her cooking"


def load_all(store, tmp_path, *, normbank=None):
    r = tmp_path / "r.jsonl"
    summaries = [
        SocialChem().load(FIXTURES / "social_chem_sample.tsv", store, rejects_path=r, progress=False),
        ValuePrism().load(FIXTURES / "valueprism_sample.csv", store, rejects_path=r, progress=False),
        MoralStories().load(FIXTURES / "moral_stories_sample.jsonl", store, rejects_path=r, progress=False),
    ]
    if normbank is not None:
        summaries.append(NormBankCsv().load(normbank, store, rejects_path=r, progress=False))
    assert all(s.rejected == 0 for s in summaries)
    return summaries


def test_an_action_shared_by_three_sources_is_one_behaviour_node(sample_csv, store, tmp_path):
    load_all(store, tmp_path, normbank=sample_csv)
    # NormBank's behaviour "leave a tip", Social-Chem's action "leave a tip." and Moral Stories' "Leave a tip."
    node = store.find_concept(ConceptScheme.behavior, "Leave a tip.")
    assert node is not None and node.id == concept_id("behavior", "leave a tip")
    about = store.linked_statements(node.id)
    assert {s.provenance.source for s in about} == {"normbank", "social-chem", "moral-stories"}
    assert {s.kind for s in about} == {Kind.norm, Kind.rule_of_thumb}
    assert all(s.behavior == "leave a tip" for s in about)
    assert store.count_linked(node.id) == len(about)
    # The resolver sees the Moral Stories action as a norm about the same behaviour too: no setting, so not a
    # restaurant candidate, but the NormBank norm is.
    assert {n.provenance.source for n in store.candidates(["restaurant"], ["leave a tip"])} == {"normbank"}


def test_spellings_of_one_action_are_kept_as_aliases(store, tmp_path):
    path = tmp_path / "ms.jsonl"
    path.write_text(
        '{"ID": "a1", "norm": "Be honest.", "situation": "s1", "moral_action": "Don\'t lie to friends."}\n'
        '{"ID": "a2", "norm": "Be honest.", "situation": "s2", "moral_action": "don\u2019t lie to friends"}\n',
        encoding="utf-8",
    )
    MoralStories().load(path, store, rejects_path=tmp_path / "r.jsonl", progress=False)
    node = store.get_concept(concept_id("behavior", "don't lie to friends"))
    assert node is not None
    # A typographic apostrophe is another spelling of the same action: one node, both spellings findable.
    assert {node.label, *node.alt_labels} == {"don't lie to friends", "don\u2019t lie to friends"}
    assert len(store.linked_statements(node.id)) == 2
    assert store.find_concept(ConceptScheme.behavior, "DON\u2019T lie to friends").id == node.id


def test_the_same_situation_from_three_sources_is_one_node_with_aliases(store, tmp_path):
    load_all(store, tmp_path)
    sid = situation_id(COOKING)
    node = store.get_concept(sid)
    assert node is not None and node.scheme is ConceptScheme.situation
    # Social-Chem writes it in lower case, ValuePrism and Moral Stories capitalised: one node.
    assert store.find_concept(ConceptScheme.situation, "Lying to my friend about liking her cooking").id == sid


def test_a_situation_query_returns_its_rules_values_rights_duties_and_norms(store, tmp_path):
    load_all(store, tmp_path)
    view = situation_view(store, COOKING)
    assert view.id == situation_id(COOKING)
    assert {r.provenance.source for r in view.rules_of_thumb} == {"social-chem", "moral-stories"}
    assert {r.text for r in view.rules_of_thumb} == {
        "It's okay to tell white lies to spare someone's feelings.",
        "It's good to be honest and never lie to your friends.",
        "It's wrong to lie to your friends.",
    }
    assert {v.text for v in view.values} == {"Honesty", "Kindness"}
    assert {r.text for r in view.rights} == {"Right to truthful information"}
    assert {d.text for d in view.duties} == {"Duty to be honest with friends"}
    assert len(view.norms) == 2 and {n.label.value for n in view.norms} == {"expected", "unexpected"}
    # The white lie is judged by Social-Chem (okay) and by Moral Stories (unexpected): one behaviour.
    lie = concept_id("behavior", "telling white lies to spare someone's feelings")
    [link] = [b for b in view.behaviors if b.id == lie]
    assert link.statements == 2
    assert view.sources == ["moral-stories", "social-chem", "valueprism"]
    assert any("Share-alike" in a for a in view.attribution)  # Social-Chem is CC BY-SA


def test_a_situation_written_as_an_action_reaches_that_behaviour(sample_csv, store, tmp_path):
    load_all(store, tmp_path, normbank=sample_csv)
    view = situation_view(store, "Leave a tip")
    assert {d.text for d in view.duties} == {"Duty to compensate service workers"}
    assert {v.text for v in view.values} == {"Fairness"}
    elsewhere = {s.provenance.source for s in view.as_behavior}
    assert elsewhere == {"normbank", "social-chem", "moral-stories"}


def test_situations_by_id_text_and_unknown(store, tmp_path):
    load_all(store, tmp_path)
    sid = situation_id(COOKING)
    assert situation_view(store, sid).id == sid
    assert situation_view(store, sid.removeprefix("situation/")).id == sid
    with pytest.raises(NotFound):
        situation_view(store, "a situation nobody wrote about")


def test_long_situations_get_short_distinct_ids():
    post = "My roommate keeps eating my food. " * 40
    a, b = situation_id(post), situation_id(post + " Again.")
    assert a != b and len(a) <= len("situation/") + 80
    assert situation_id(post.upper()) == a
