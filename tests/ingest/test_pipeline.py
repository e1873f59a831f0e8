"""The pipeline's own duties (rejects file, batching, progress, summary) and the canonical constructor."""

from __future__ import annotations

import json

import pytest

from ingest.canonical import make_concept, make_norm
from ingest.pipeline import format_summary
from ingest.sources.jsonl import JsonlNorms
from ingest.sources.normbank import NormBankCsv
from normgraph.errors import InvalidInput
from normgraph.frames.grammar import parse_frame
from normgraph.ids import statement_id
from normgraph.models import Label
from normgraph.sources import Source, available_sources

from .conftest import FIXTURES


def test_entry_points_register_all_four_sources():
    sources = available_sources()
    assert {"normbank", "normbank-taxonomy", "jsonl", "concepts"} <= set(sources)
    for name in ("normbank", "normbank-taxonomy", "jsonl", "concepts"):
        src = sources[name]
        assert isinstance(src, Source) and src.name == name and src.description


def test_default_rejects_file_is_in_the_working_dir_and_only_made_when_needed(store, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    clean = tmp_path / "clean.jsonl"
    clean.write_text(json.dumps({"behavior": "sing", "label": "okay", "text": "Singing is okay."}) + "\n",
                     encoding="utf-8")
    summary = JsonlNorms().load(clean, store, progress=False)
    assert summary.rejects_path is None and not (tmp_path / "clean.jsonl.rejects.jsonl").exists()

    dirty = tmp_path / "dirty.jsonl"
    dirty.write_text('{"text": "x", "label": "okay"}\nnot json\n', encoding="utf-8")
    summary = JsonlNorms().load(dirty, store, progress=False)
    expected = tmp_path / "dirty.jsonl.rejects.jsonl"
    assert summary.rejects_path == str(expected)
    [reject] = [json.loads(x) for x in expected.read_text(encoding="utf-8").splitlines()]
    assert set(reject) == {"file", "line", "reason", "raw"}
    assert (reject["file"], reject["line"], reject["raw"]) == (str(dirty), 2, "not json")


def test_small_batches_give_the_same_counts(sample_csv, store, tmp_path):
    summary = NormBankCsv().load(sample_csv, store, rejects_path=tmp_path / "r.jsonl", progress=False, batch_size=7)
    assert summary.loaded == 50 == store.stats().statements


def test_no_progress_bar_when_stderr_is_not_a_terminal(sample_csv, store, tmp_path, capfd):
    NormBankCsv().load(sample_csv, store, rejects_path=tmp_path / "r.jsonl", progress=True)
    assert capfd.readouterr().err == ""


def test_format_summary(sample_csv, store, tmp_path):
    path = tmp_path / "some.jsonl"
    path.write_text('{"text": "x", "label": "okay"}\n[]\n', encoding="utf-8")
    summary = JsonlNorms().load(path, store, rejects_path=tmp_path / "r.jsonl", progress=False)
    text = format_summary(summary)
    assert text.splitlines()[0] == f"jsonl: {path}"
    assert "read 2" in text and "loaded 1" in text and "rejected 1" in text
    assert str(tmp_path / "r.jsonl") in text


def test_make_norm_content_id_ignores_constraint_order_but_not_label():
    frame = parse_frame("[PERSON]'s role is 'customer' [AND] noise is 'loud'")
    common = dict(source="s", source_row=1, setting="Restaurant ", behavior="Shout", text="t")
    a = make_norm(**common, constraints=frame, label="okay")
    b = make_norm(**common, constraints=tuple(reversed(frame)), label="okay")
    c = make_norm(**common, constraints=frame, label="unexpected")
    assert a.id == b.id != c.id
    assert a.id.startswith("n-") and (a.setting, a.behavior) == ("restaurant", "shout")


def test_make_norm_verbalises_and_derives_country_from_the_environment_only():
    norm = make_norm(
        source="normbank", source_row=9, id="9", setting="restaurant", behavior="leave a tip",
        constraints="[PERSON]'s role is 'customer' [AND] country is 'Japan'", label="taboo",
    )
    assert norm.id == statement_id("n", "normbank", "9")
    assert norm.label is Label.unexpected and norm.country == "japan"
    assert norm.text == "In a restaurant in Japan, a customer leaving a tip is unexpected."
    visitor = make_norm(
        source="s", source_row=1, setting="restaurant", behavior="eat",
        constraints="[PERSON]'s country is 'Japan'", label="okay",
    )
    assert visitor.country is None  # a person's country is where they are from, not where the norm holds


def test_make_norm_needs_text_or_behavior():
    with pytest.raises(InvalidInput, match="text or a behavior"):
        make_norm(source="s", source_row=1, setting="bar", behavior=None, constraints=None, label="okay")


def test_make_concept_ids_and_aliases():
    c = make_concept(scheme="setting", label=" Greasy  Spoon ", alt_labels=["greasy spoon", "Diner", "diner"],
                     broader=["Restaurant"], source="t")
    assert (c.id, c.label, c.alt_labels, c.broader) == (
        "setting/greasy-spoon", "Greasy Spoon", ("Diner",), ("setting/restaurant",)
    )
    v = make_concept(scheme="attribute_value", label="Teen", attribute="Age Bracket", source="t")
    assert v.id == "attribute_value/age-bracket/teen" and v.attribute == "age bracket"


def test_fixture_files_are_the_ones_the_tests_describe():
    lines = [x for x in (FIXTURES / "statements.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]
    kinds = {json.loads(x).get("kind", "norm") for x in lines}
    assert kinds == {"norm", "rule_of_thumb", "value", "right", "duty"}
