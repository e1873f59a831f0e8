"""ValuePrism and Moral Stories readers on their published formats (fixtures written for this project)."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

from ingest.sources.moral_stories import MoralStories
from ingest.sources.valueprism import ValuePrism
from normgraph.ids import statement_id
from normgraph.models import Kind, Label, Valence

from .conftest import FIXTURES, rejects_of

VALUEPRISM = FIXTURES / "valueprism_sample.csv"
STORIES = FIXTURES / "moral_stories_sample.jsonl"


def test_valueprism_rows_become_values_rights_and_duties(store, tmp_path):
    with open(VALUEPRISM, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    summary = ValuePrism().load(VALUEPRISM, store, rejects_path=tmp_path / "r.jsonl", progress=False)
    assert (summary.read, summary.loaded, summary.rejected) == (len(rows), len(rows), 0)
    assert store.stats().by_kind == dict(Counter(r["vrd"].lower() for r in rows))
    by_text = {s.text: s for s in store.iter_statements()}
    honesty = by_text["Honesty"]
    assert (honesty.kind, honesty.valence, honesty.situation) == (
        Kind.value, Valence.opposes, "Lying to my friend about liking her cooking")
    assert honesty.explanation == "Saying you like food you do not like is untruthful."
    assert by_text['Self-expression, "speaking up"'].valence is Valence.either
    assert by_text["Right to a respectful workplace"].kind is Kind.right
    assert honesty.provenance.licence == "AI2 ImpACT License - Medium Risk Artifacts"
    again = ValuePrism().load(VALUEPRISM, store, rejects_path=tmp_path / "r.jsonl", progress=False)
    assert (again.loaded, again.updated, again.duplicates) == (0, 0, len(rows))


def test_valueprism_bad_rows(store, tmp_path):
    path = tmp_path / "vp.csv"
    path.write_text(
        "situation,vrd,text,explanation,valence\n"
        "Eating meat,Value,Animal welfare,Animals suffer.,Opposes\n"
        "Eating meat,Virtue,Temperance,x,Supports\n"
        "Eating meat,Value,Tradition,x,Sometimes\n"
        ",Value,Health,x,Supports\n"
        "Eating meat,Duty,,x,Supports\n"
        "Eating meat,Value,Animal welfare,Animals do not suffer.,Supports\n"
        "eating  MEAT,value,animal welfare,Animals suffer.,opposes\n",
        encoding="utf-8",
    )
    summary = ValuePrism().load(path, store, rejects_path=tmp_path / "r.jsonl", progress=False)
    assert (summary.read, summary.loaded, summary.rejected, summary.duplicates) == (7, 1, 5, 1)
    reasons = {r["line"]: r["reason"] for r in rejects_of(summary)}
    assert "unknown vrd 'Virtue'" in reasons[3]
    assert "unknown valence 'Sometimes'" in reasons[4]
    assert reasons[5] == "empty situation"
    assert "empty text" in reasons[6]
    assert "already used on line 2" in reasons[7]


def test_moral_stories_give_a_rule_and_two_judged_actions_per_story(store, tmp_path):
    stories = [json.loads(x) for x in STORIES.read_text(encoding="utf-8").splitlines() if x.strip()]
    summary = MoralStories().load(STORIES, store, rejects_path=tmp_path / "r.jsonl", progress=False)
    assert (summary.read, summary.loaded, summary.rejected) == (len(stories), 3 * len(stories), 0)
    stats = store.stats()
    assert stats.by_kind == {"rule_of_thumb": len(stories), "norm": 2 * len(stories)}
    assert stats.by_label == {"expected": len(stories), "unexpected": len(stories)}
    s = stories[0]
    rule = store.get_statement(statement_id("rot", "moral-stories", s["ID"]))
    assert (rule.text, rule.situation) == (s["norm"], s["situation"])
    assert rule.judgments["intention"] == s["intention"]
    assert rule.judgments["immoral_consequence"] == s["immoral_consequence"]
    good = store.get_statement(statement_id("n", "moral-stories", f"{s['ID']}/moral_action"))
    bad = store.get_statement(statement_id("n", "moral-stories", f"{s['ID']}/immoral_action"))
    assert good.label is Label.expected and bad.label is Label.unexpected
    assert good.situation == bad.situation == s["situation"]
    assert bad.behavior == "telling white lies to spare someone's feelings"
    assert s["norm"] in bad.text and s["immoral_action"] in bad.text
    assert rule.provenance.source_row == s["ID"] and rule.provenance.licence == "MIT"


def test_moral_stories_bad_lines(store, tmp_path):
    good = STORIES.read_text(encoding="utf-8").splitlines()[0]
    path = tmp_path / "ms.jsonl"
    path.write_text(
        "\n".join([
            good,
            "{not json",
            "[1, 2]",
            json.dumps({"ID": "x1", "situation": "s"}),
            json.dumps({"norm": "n", "situation": "s"}),
            json.dumps({"ID": "x2", "norm": "n", "situation": "s", "moral_action": 5}),
            "",
            json.dumps({"ID": "x3", "norm": "Be kind.", "situation": "A stranger drops a glove."}),
        ]) + "\n",
        encoding="utf-8",
    )
    summary = MoralStories().load(path, store, rejects_path=tmp_path / "r.jsonl", progress=False)
    assert (summary.read, summary.rejected, summary.loaded) == (7, 5, 4)
    reasons = {r["line"]: r["reason"] for r in rejects_of(summary)}
    assert reasons[2].startswith("not JSON")
    assert "expected a JSON object" in reasons[3]
    assert reasons[4] == "missing 'norm'"
    assert reasons[5] == "missing 'ID'"
    assert "'moral_action' must be a string" in reasons[6]
    # A story without actions still gives its rule of thumb.
    assert store.get_statement(statement_id("rot", "moral-stories", "x3")).text == "Be kind."


def test_empty_jsonl_is_an_error(store, tmp_path):
    import pytest
    from normgraph.errors import IngestError

    path = tmp_path / "empty.jsonl"
    path.write_text("\n\n", encoding="utf-8")
    with pytest.raises(IngestError, match="empty file"):
        MoralStories().load(path, store, rejects_path=tmp_path / "r.jsonl", progress=False)
    assert not Path(tmp_path / "r.jsonl").exists()
