"""Concept files for taxonomy edits: hierarchy, aliases, references resolved by label, rejects with lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest.sources.concepts import ConceptsJson
from normgraph.errors import IngestError
from normgraph.models import ConceptScheme, Subject

from .conftest import FIXTURES


def load(path: Path, store, tmp_path: Path):
    return ConceptsJson().load(path, store, rejects_path=tmp_path / "rejects.jsonl", progress=False)


def rejects(tmp_path: Path) -> list[dict]:
    return [json.loads(x) for x in (tmp_path / "rejects.jsonl").read_text(encoding="utf-8").splitlines()]


def test_hierarchy_and_aliases(store, tmp_path):
    summary = load(FIXTURES / "concepts.json", store, tmp_path)
    assert (summary.loaded, summary.rejected, summary.concepts) == (6, 0, 6)
    # "truck stop diner" names its parent by the alias "greasy spoon".
    assert store.broader_closure("setting/truck-stop-diner") == [
        "setting/truck-stop-diner", "setting/diner", "setting/restaurant"
    ]
    assert store.find_concept(ConceptScheme.setting, "Greasy Spoon").id == "setting/diner"
    shout = store.find_concept(ConceptScheme.behavior, "yell")
    assert shout.id == "behavior/shout"
    assert set(shout.related_settings) == {"setting/restaurant", "setting/diner"}
    assert shout.provenance.source == "ingest-fixture" and shout.provenance.source_row == "7"
    assert store.get_concept("attribute/age-bracket").subject is Subject.person
    assert store.get_concept("attribute_value/age-bracket/toddler").attribute == "age bracket"
    again = load(FIXTURES / "concepts.json", store, tmp_path)
    assert (again.loaded, again.updated, again.duplicates) == (0, 0, 6)


def test_references_resolve_against_the_store(store, tmp_path):
    load(FIXTURES / "concepts.json", store, tmp_path)
    path = tmp_path / "more.jsonl"
    path.write_text(
        json.dumps({"scheme": "setting", "label": "bistro", "broader": ["eatery"]}) + "\n"
        + json.dumps({"scheme": "role", "label": "waiter", "related_settings": ["bistro", "diner"]}) + "\n",
        encoding="utf-8",
    )
    summary = load(path, store, tmp_path)
    assert (summary.loaded, summary.rejected) == (2, 0)
    assert store.broader_closure("setting/bistro") == ["setting/bistro", "setting/restaurant"]
    assert set(store.get_concept("role/waiter").related_settings) == {"setting/bistro", "setting/diner"}


def test_bad_concepts_are_rejected_with_their_line(store, tmp_path):
    path = tmp_path / "taxonomy.json"
    path.write_text(
        """{
  "concepts": [
    {"scheme": "setting", "label": "cafe"},
    {"scheme": "setting", "label": "espresso bar", "broader": ["coffe house"]},
    {"scheme": "planet", "label": "mars"},
    {"scheme": "setting",
     "label": "tea room", "colour": "green"},
    {"scheme": "role", "label": "barista", "related_settings": ["cafe", "nowhere"]},
    {"scheme": "attribute_value", "label": "teen"},
    {"scheme": "setting", "label": "loop", "broader": ["loop"]},
    {"scheme": "behavior", "label": ""},
    {"scheme": "behavior", "label": "sip", "alt_labels": "drink"}
  ]
}
""",
        encoding="utf-8",
    )
    summary = load(path, store, tmp_path)
    assert summary.loaded == 1 and store.get_concept("setting/cafe") is not None
    reasons = {r["line"]: r["reason"] for r in rejects(tmp_path)}
    expected = {
        4: "broader: no setting 'coffe house' in this file or the store",
        5: "unknown scheme 'planet'",
        6: "unknown key(s) 'colour'",
        8: "related_settings: no setting 'nowhere'",
        9: "needs its attribute",
        10: "cannot be broader than itself",
        11: "missing 'label'",
        12: "'alt_labels' must be a list",
    }
    assert sorted(reasons) == sorted(expected)
    for line, words in expected.items():
        assert words in reasons[line], (line, reasons[line])
    assert summary.rejected == len(expected)


def test_whole_file_errors(store, tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{\n  "concepts": [\n    {"scheme": "setting" "label": "x"}\n  ]\n}\n', encoding="utf-8")
    with pytest.raises(IngestError, match="line 3"):
        load(broken, store, tmp_path)
    extra = tmp_path / "extra.json"
    extra.write_text('{"concepts": [], "settings": []}', encoding="utf-8")
    with pytest.raises(IngestError, match="unknown top-level key"):
        load(extra, store, tmp_path)
    empty = tmp_path / "empty.json"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(IngestError, match="empty file"):
        load(empty, store, tmp_path)
    with pytest.raises(IngestError, match="no such file"):
        load(tmp_path / "missing.json", store, tmp_path)


def test_a_top_level_array_works(store, tmp_path):
    path = tmp_path / "list.json"
    path.write_text(json.dumps([{"scheme": "setting", "label": "park"}, {"scheme": "setting", "label": "zoo"}]),
                    encoding="utf-8")
    assert load(path, store, tmp_path).loaded == 2
