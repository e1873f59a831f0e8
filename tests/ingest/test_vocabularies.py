"""Vocabularies: Schwartz values as a SKOS scheme with its hierarchy, UDHR articles as rights (and a duty)."""

from __future__ import annotations

import csv
import json

import pytest

from ingest.sources.udhr import Udhr, kind_of_article
from ingest.sources.values import SchwartzValues
from normgraph.errors import IngestError
from normgraph.ids import concept_id, statement_id
from normgraph.models import ConceptScheme, Kind

from .conftest import rejects_of, shared_file


def test_schwartz_values_scheme_and_hierarchy(shared_data, store, tmp_path):
    path = shared_file(shared_data, "values/schwartz_values_touche23.json")
    values = json.loads(path.read_bytes())["values"]
    level2 = {v["level2"] for v in values}
    level3 = {x for v in values for x in v["level3"]}
    level4 = {x for v in values for x in v["level4a"] + v["level4b"]}
    summary = SchwartzValues().load(path, store, rejects_path=tmp_path / "r.jsonl", progress=False)
    total = len(values) + len(level2) + len(level3) + len(level4)
    assert (summary.loaded, summary.concepts, summary.rejected) == (total, total, 0)
    assert store.stats().concepts == {"schwartz_value": total}

    creative = store.find_concept(ConceptScheme.schwartz_value, "Creativity/Imagination")  # its alternative name
    assert creative is not None and creative.label == "Be creative"
    assert "fostering creativity" in creative.definition and "SDT1" in creative.definition
    chain = [store.get_concept(c).label for c in store.broader_closure(creative.id)]
    assert chain[:3] == ["Be creative", "Self-direction: thought", "Openness to change"]
    assert {"Personal focus", "Growth, Anxiety-free"} <= set(chain[3:])
    # Schwartz's circle overlaps: Hedonism sits under two higher-order values.
    hedonism = store.get_concept(concept_id("schwartz_value", "Hedonism"))
    assert {store.get_concept(b).label for b in hedonism.broader} == {"Openness to change", "Self-enhancement"}
    wealth = next(v for v in values if v["name"] == "Have wealth")
    stored = store.get_concept(concept_id("schwartz_value", "Have wealth"))
    assert wealth["notToBeConfusedWith"][0]["id"] in stored.definition


def test_values_file_errors(store, tmp_path):
    bad = tmp_path / "v.json"
    bad.write_text(json.dumps({"values": [{"name": "Be kind"}, {"name": "Be fair", "level2": "Fairness"}]}),
                   encoding="utf-8")
    summary = SchwartzValues().load(bad, store, rejects_path=tmp_path / "r.jsonl", progress=False)
    assert (summary.loaded, summary.rejected) == (2, 1)  # "Be fair" and its category
    assert rejects_of(summary)[0]["reason"] == "missing 'level2'"
    wrong = tmp_path / "w.json"
    wrong.write_text('{"items": []}', encoding="utf-8")
    with pytest.raises(IngestError, match="Touché23"):
        SchwartzValues().load(wrong, store, progress=False)


def test_udhr_articles_are_rights_and_article_29_a_duty(shared_data, store, tmp_path):
    path = shared_file(shared_data, "values/udhr_articles_en.csv")
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    summary = Udhr().load(path, store, rejects_path=tmp_path / "r.jsonl", progress=False)
    assert (summary.read, summary.loaded, summary.rejected) == (len(rows), len(rows), 0) == (30, 30, 0)
    assert store.stats().by_kind == {"right": 29, "duty": 1}
    art3 = store.get_statement(statement_id("r", "udhr", "article-3"))
    assert art3.text == "Everyone has the right to life, liberty and security of person."
    assert art3.provenance.source_row == "3" and art3.provenance.licence == "public domain"
    art29 = store.get_statement(statement_id("d", "udhr", "article-29"))
    assert art29.kind is Kind.duty


def test_article_kind_reads_the_first_sentence_only():
    assert kind_of_article("Everyone has duties to the community.In the exercise of rights…") is Kind.duty
    assert kind_of_article("Everyone has the right to rest.Parents have prior duties to choose.") is Kind.right


def test_mfd_writes_the_foundations_and_tags_statements_without_them(shared_data, store, tmp_path):
    from ingest.sources.mfd import MoralFoundationsDictionary, read_lexicon
    from ingest.sources.moral_stories import MoralStories
    from ingest.sources.social_chem import SocialChem
    from normgraph.ids import concept_id

    from .conftest import FIXTURES

    dic = shared_file(shared_data, "lexicons/mfd2.0.dic")
    r = tmp_path / "r.jsonl"
    SocialChem().load(FIXTURES / "social_chem_sample.tsv", store, rejects_path=r, progress=False)
    MoralStories().load(FIXTURES / "moral_stories_sample.jsonl", store, rejects_path=r, progress=False)
    given = {s.id: s.moral_foundations for s in store.iter_statements() if getattr(s, "moral_foundations", ())}
    candidates = [s for s in store.iter_statements([Kind.rule_of_thumb, Kind.norm]) if not s.moral_foundations]

    summary = MoralFoundationsDictionary().load(dic, store, rejects_path=r, progress=False)
    lex, _ = read_lexicon(dic)
    # Independent check of the lexicon size: every non-header line is one (word, category) entry.
    lines = [x for x in dic.read_text(encoding="utf-8").splitlines()[12:] if x.strip()]
    assert sum(lex.counts.values()) == len(lines)
    assert summary.read == 1 + len(candidates) and summary.rejected == 0
    stats = store.stats()
    assert stats.concepts["moral_foundation"] == 15  # five foundations, each a virtue and a vice
    care = store.get_concept(concept_id("moral_foundation", "care"))
    assert care is not None and "care-harm" in care.alt_labels
    virtue = store.get_concept(concept_id("moral_foundation", "care.virtue"))
    assert virtue.broader == (care.id,)

    after = {s.id: s for s in store.iter_statements([Kind.rule_of_thumb, Kind.norm])}
    for sid, foundations in given.items():  # foundations a source gave are never touched
        assert after[sid].moral_foundations == foundations and not after[sid].provenance.inferred
    tagged = [s for s in after.values() if s.provenance.inferred]
    assert summary.updated == len(tagged) > 0
    for s in tagged:
        method = s.provenance.inferred["moral_foundations"]
        assert method.startswith("MFD 2.0 lexicon match: ")
        for f in s.moral_foundations:  # each tag is backed by a lexicon word in the text
            name = f.split("-")[0]
            words = method.split(f"{name} (")[1].split(")")[0].split(", ")
            assert all(w in (s.text + " " + (s.behavior or "")).lower() for w in words)
    honest = next(s for s in tagged if "honest" in s.text)
    assert honest.moral_foundations == ("fairness-cheating",)

    again = MoralFoundationsDictionary().load(dic, store, rejects_path=r, progress=False)
    assert (again.updated, again.loaded) == (0, 0) and again.duplicates == len(candidates)


def test_mfd_file_errors(store, tmp_path):
    from ingest.sources.mfd import MoralFoundationsDictionary

    bad = tmp_path / "x.dic"
    bad.write_text("word\t1\n", encoding="utf-8")
    with pytest.raises(IngestError, match="LIWC"):
        MoralFoundationsDictionary().load(bad, store, progress=False)
    odd = tmp_path / "odd.dic"
    odd.write_text("%\n1\tcare.virtue\n%\nkindness\t1\nmystery\t7\n\n", encoding="utf-8")
    summary = MoralFoundationsDictionary().load(odd, store, rejects_path=tmp_path / "r.jsonl", progress=False)
    [reject] = rejects_of(summary)
    assert (reject["line"], reject["reason"]) == (5, "unknown category 7")
