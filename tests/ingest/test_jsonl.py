"""Generic JSONL statements: every kind, string and structured frames, ids, and the rejects."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ingest.sources.jsonl import JsonlNorms
from normgraph.errors import IngestError
from normgraph.ids import statement_id
from normgraph.models import Kind, Label, Relation, Subject, Valence

from .conftest import FIXTURES


def load(path: Path, store, tmp_path: Path):
    return JsonlNorms().load(path, store, rejects_path=tmp_path / "rejects.jsonl", progress=False)


def test_every_kind_loads(store, tmp_path):
    path = FIXTURES / "statements.jsonl"
    summary = load(path, store, tmp_path)
    assert (summary.read, summary.loaded, summary.rejected) == (6, 6, 0)
    stats = store.stats()
    assert stats.by_kind == {"norm": 2, "rule_of_thumb": 1, "value": 1, "right": 1, "duty": 1}
    assert stats.by_source == {"statements": 6}  # default source: the file's stem

    tip = store.get_statement(statement_id("n", "statements", "tip-us"))
    assert tip.setting == "restaurant" and tip.label is Label.expected
    assert tip.country == "united states"  # from the frame's environment constraint
    assert tip.provenance.agreement == 0.9 and tip.provenance.licence == "CC0-1.0"
    assert tip.provenance.source_row == "1"

    right = store.get_statement(statement_id("r", "statements", "udhr-19"))
    assert right.kind is Kind.right

    by_kind = {s.kind: s for s in store.iter_statements()}
    structured = [n for n in store.iter_statements([Kind.norm]) if n.behavior == "shout"][0]
    assert [(c.subject, c.attribute, c.relation, c.value) for c in structured.constraints] == [
        (Subject.person, "role", Relation.is_, "customer"),
        (Subject.person, "age bracket", Relation.le, "toddler"),
    ]
    rot = by_kind[Kind.rule_of_thumb]
    assert rot.action == "thanking the cook" and rot.moral_foundations == ("care",)
    assert rot.judgments == {"agreement": "most"} and rot.situation == "eating out"
    assert by_kind[Kind.value].valence is Valence.supports
    assert by_kind[Kind.duty].country == "japan"


def test_reingest_is_a_no_op_with_and_without_ids(store, tmp_path):
    path = FIXTURES / "statements.jsonl"
    load(path, store, tmp_path)
    before = store.stats()
    again = load(path, store, tmp_path)
    assert (again.loaded, again.updated, again.duplicates) == (0, 0, 6)
    assert store.stats() == before


def test_content_ids_do_not_depend_on_the_file_name_or_line(store, tmp_path):
    line = {"setting": "bar", "behavior": "sing", "label": "okay", "text": "Singing in a bar is okay.", "source": "s"}
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text(json.dumps(line) + "\n", encoding="utf-8")
    b.write_text("\n\n" + json.dumps(line) + "\n", encoding="utf-8")
    assert load(a, store, tmp_path).loaded == 1
    second = load(b, store, tmp_path)
    # Same statement, so no new one; its provenance (file, line) now differs, which the store counts as an update.
    assert (second.loaded, second.duplicates + second.updated) == (0, 1)
    assert store.stats().statements == 1


def test_repeated_lines_in_one_file(store, tmp_path):
    same = {"setting": "bar", "behavior": "sing", "label": "okay", "text": "Singing in a bar is okay."}
    clash_a = {"id": "x1", "setting": "bar", "behavior": "dance", "label": "okay", "text": "Dancing is okay."}
    clash_b = dict(clash_a, label="unexpected", text="Dancing is unexpected.")
    path = tmp_path / "repeats.jsonl"
    path.write_text("\n".join(json.dumps(o) for o in (same, same, clash_a, clash_b)) + "\n", encoding="utf-8")
    summary = load(path, store, tmp_path)
    assert (summary.loaded, summary.duplicates, summary.rejected) == (2, 1, 1)
    reject = json.loads((tmp_path / "rejects.jsonl").read_text(encoding="utf-8"))
    assert reject["line"] == 4 and "already used on line 3" in reject["reason"]


def test_bad_lines_are_rejected_with_line_and_reason(store, tmp_path):
    good = {"setting": "bar", "behavior": "sing", "label": "okay", "text": "Singing in a bar is okay."}
    lines = [
        json.dumps(good),  # 1
        json.dumps({"setting": "bar", "behavior": "sing", "label": "okay"}),  # 2 missing text
        json.dumps(dict(good, kind="law")),  # 3 bad kind
        json.dumps(dict(good, label="great")),  # 4 bad label
        json.dumps(dict(good, colour="red", mood="x")),  # 5 unknown keys
        "{not json",  # 6
        "",  # 7 blank: skipped
        json.dumps([1, 2]),  # 8 not an object
        json.dumps(dict(good, valence="supports")),  # 9 key of another kind
        json.dumps(dict(good, frame="[PERSON]'s role 'x'")),  # 10 malformed frame
        json.dumps(dict(good, frame=[{"subject": "boss", "attribute": "role", "value": "x"}])),  # 11 bad subject
        json.dumps({k: v for k, v in good.items() if k != "label"}),  # 12 norm without label
        json.dumps(dict(good, agreement=1.5, text="Singing, agreed.")),  # 13 agreement out of range
        json.dumps({"kind": "value", "text": "Honesty", "valence": "sometimes"}),  # 14 bad valence
        json.dumps(dict(good, setting=3)),  # 15 wrong type
    ]
    path = tmp_path / "bad.jsonl"
    data = "\n".join(lines).encode() + b"\n" + b'{"text": "caf\xe9", "label": "okay"}\n'  # 16 not UTF-8
    path.write_bytes(data)
    summary = load(path, store, tmp_path)
    assert summary.loaded == 1 == store.stats().statements
    rejects = [json.loads(x) for x in (tmp_path / "rejects.jsonl").read_text(encoding="utf-8").splitlines()]
    reasons = {r["line"]: r["reason"] for r in rejects}
    assert all(r["file"] == str(path) for r in rejects)
    expected = {
        2: "missing 'text'",
        3: "unknown kind 'law'",
        4: "unknown label 'great'",
        5: "unknown key(s) 'colour', 'mood'",
        6: "not JSON",
        8: "expected a JSON object, found an array",
        9: "'valence' do not apply to kind norm",
        10: "not a NormBank constraint",
        11: "invalid structured constraint",
        12: "missing 'label'",
        13: "agreement",
        14: "unknown valence 'sometimes'",
        15: "'setting' must be a string",
        16: "not valid UTF-8",
    }
    assert sorted(reasons) == sorted(expected)
    for line, words in expected.items():
        assert words in reasons[line], (line, reasons[line])
    assert summary.rejected == len(expected) and summary.read == 15


def test_empty_jsonl_is_an_ingest_error(store, tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_text("\n  \n", encoding="utf-8")
    with pytest.raises(IngestError, match="empty file"):
        load(path, store, tmp_path)


def test_an_exported_id_is_kept(store, tmp_path):
    path = tmp_path / "export.jsonl"
    shutil.copy(FIXTURES / "statements.jsonl", path)
    load(path, store, tmp_path)
    stored = next(iter(store.iter_statements([Kind.duty])))
    again = tmp_path / "again.jsonl"
    again.write_text(json.dumps({"id": stored.id, "kind": "duty", "text": stored.text}) + "\n", encoding="utf-8")
    summary = load(again, store, tmp_path)
    assert store.stats().statements == 6 and summary.loaded == 0
