"""ETHICS (three subsets told apart by their columns) and PrivacyLens (JSON and flat CSV) on the shared files."""

from __future__ import annotations

import csv
import json
from collections import Counter

import pytest

from ingest.sources.ethics import Ethics, split_of
from ingest.sources.privacylens import PrivacyLens
from normgraph.errors import IngestError
from normgraph.ids import normalise_text, statement_id
from normgraph.models import Kind, Label, Subject, Valence

from .conftest import rejects_of, shared_file


def csv_rows(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def load(reader, path, store, tmp_path):
    return reader.load(path, store, rejects_path=tmp_path / "r.jsonl", progress=False)


def test_commonsense_hard_test_set_loads_completely(shared_data, store, tmp_path):
    path = shared_file(shared_data, "ethics/cm_test_hard.csv")
    rows = csv_rows(path)
    summary = load(Ethics(), path, store, tmp_path)
    assert (summary.read, summary.loaded, summary.rejected) == (len(rows), len(rows), 0)
    stats = store.stats()
    assert stats.by_kind == {"norm": len(rows)}
    want = Counter("unexpected" if r["label"] == "1" else "okay" for r in rows)
    assert stats.by_label == dict(want)
    # A multi-line post keeps its line breaks and starts on the line the rejects/provenance name.
    long_rows = [r for r in rows if "\n" in r["input"]]
    assert long_rows
    norms = {n.text: n for n in store.iter_statements()}
    post = norms[long_rows[0]["input"].strip()]
    assert post.situation == post.text and post.split == "test_hard"
    assert post.label is (Label.unexpected if long_rows[0]["label"] == "1" else Label.okay)
    first_line = int(post.provenance.source_row)
    with open(path, encoding="utf-8", newline="") as fh:
        physical = fh.read().split("\n")
    assert long_rows[0]["input"].strip()[:40] in physical[first_line - 1]
    # is_short/edited, which the schema has no field for, come back from the store as the booleans written.
    flag = {"True": True, "False": False}
    stored = store.get_statement(post.id)
    assert stored.provenance.source_fields == {
        "is_short": flag[long_rows[0]["is_short"]], "edited": flag[long_rows[0]["edited"]]}
    assert Counter(tuple(sorted(n.provenance.source_fields.items())) for n in store.iter_statements()) == Counter(
        (("edited", flag[r["edited"]]), ("is_short", flag[r["is_short"]])) for r in rows)


@pytest.mark.slow
@pytest.mark.parametrize("relative", ["ethics/deontology_train.csv", "ethics/justice_train.csv"])
def test_deontology_and_justice_load_completely(relative, shared_data, store, tmp_path):
    path = shared_file(shared_data, relative)
    rows = csv_rows(path)
    summary = load(Ethics(), path, store, tmp_path)
    deontology = "excuse" in rows[0]
    # Independent count: rows that are the same after case/spacing folding are one statement; for duties
    # (the label is a valence, not part of the identity) a second label for the same pair is a conflict.
    key = (lambda r: (normalise_text(r["scenario"]), normalise_text(r["excuse"]))) if deontology else \
        (lambda r: (normalise_text(r["scenario"]), r["label"]))
    first: dict = {}
    conflicts = 0
    for r in rows:
        k = key(r)
        if k in first and first[k] != r["label"]:
            conflicts += 1
        first.setdefault(k, r["label"])
    assert summary.read == len(rows)
    assert summary.loaded == len(first) == store.stats().statements
    assert summary.rejected == conflicts
    assert summary.duplicates == len(rows) - len(first) - conflicts
    if deontology:
        stats = store.stats()
        assert stats.by_kind == {"duty": len(first)}
        duties = list(store.iter_statements())
        valences = Counter(d.valence for d in duties)
        assert valences == Counter(Valence.opposes if v == "1" else Valence.supports for v in first.values())
        d = duties[0]
        assert d.kind is Kind.duty and d.explanation and d.text == f"{d.situation} {d.explanation}"
    else:
        assert store.stats().by_label == dict(
            Counter("okay" if v == "1" else "unexpected" for v in first.values()))


def test_subsets_are_told_apart_by_columns_and_bad_labels_rejected(store, tmp_path):
    cm = tmp_path / "cm_train.csv"
    cm.write_text("label,input,is_short,edited\n1,I kicked the dog.,True,False\n0,I fed the dog.,True,False\n"
                  "2,I walked the dog.,True,False\n", encoding="utf-8")
    de = tmp_path / "deontology_test.csv"
    de.write_text("label,scenario,excuse\n1,Could you feed the cat?,But the cat was just fed.\n"
                  "0,Could you feed the cat?,But I am reading.\n", encoding="utf-8")
    ju = tmp_path / "justice_dev.csv"
    ju.write_text("label,scenario\n1,I deserve a raise because I worked hard.\n"
                  "0,I should be kind [SEP] kind\n", encoding="utf-8")
    s_cm = load(Ethics(), cm, store, tmp_path)
    assert (s_cm.loaded, s_cm.rejected) == (2, 1)
    assert "label '2': expected 0 or 1" in rejects_of(s_cm)[0]["reason"]
    s_de = load(Ethics(), de, store, tmp_path)
    assert s_de.loaded == 2
    s_ju = load(Ethics(), ju, store, tmp_path)
    assert (s_ju.loaded, s_ju.rejected) == (1, 1)
    assert "virtue" in rejects_of(s_ju)[0]["reason"]
    kinds = Counter((s.kind, getattr(s, "split", None)) for s in store.iter_statements())
    assert kinds == {(Kind.norm, "train"): 2, (Kind.duty, None): 2, (Kind.norm, "dev"): 1}
    duties = {d.explanation: d for d in store.iter_statements([Kind.duty])}
    assert duties["But the cat was just fed."].valence is Valence.opposes
    assert duties["But I am reading."].valence is Valence.supports
    # All excuses for one request meet at its situation.
    assert {d.situation for d in duties.values()} == {"Could you feed the cat?"}
    # Commonsense keeps is_short/edited; the other subsets have no columns beyond the schema's.
    kicked = next(s for s in store.iter_statements([Kind.norm]) if s.text == "I kicked the dog.")
    assert store.get_statement(kicked.id).provenance.source_fields == {"is_short": True, "edited": False}
    assert all(not d.provenance.source_fields for d in duties.values())


def test_commonsense_flags_are_kept_as_written_and_reingest_is_a_no_op(store, tmp_path):
    cm = tmp_path / "cm_dev.csv"
    cm.write_text("label,input,is_short,edited\n1,I kicked the dog.,true,1\n0,I fed the dog.,,maybe\n"
                  "0,I fed the cat.,False,0\n", encoding="utf-8")
    first = load(Ethics(), cm, store, tmp_path)
    assert (first.loaded, first.rejected) == (3, 0)
    fields = {s.text: store.get_statement(s.id).provenance.source_fields for s in store.iter_statements()}
    assert fields == {
        "I kicked the dog.": {"is_short": True, "edited": 1},
        "I fed the dog.": {"edited": "maybe"},  # an empty cell is left out
        "I fed the cat.": {"is_short": False, "edited": 0},
    }
    again = load(Ethics(), cm, store, tmp_path)
    assert (again.loaded, again.updated, again.duplicates) == (0, 0, 3)
    cm.write_text("label,input,is_short,edited\n1,I kicked the dog.,true,0\n", encoding="utf-8")
    changed = load(Ethics(), cm, store, tmp_path)
    assert (changed.loaded, changed.updated) == (0, 1)  # a changed flag is a change of the stored row


def test_unknown_ethics_layout_is_an_error_naming_the_layouts(store, tmp_path):
    util = tmp_path / "util_train.csv"
    util.write_text("I ate cake.,I ate old cake.\n", encoding="utf-8")
    with pytest.raises(IngestError) as e:
        load(Ethics(), util, store, tmp_path)
    assert "label" in e.value.message and str(util) in e.value.message
    other = tmp_path / "other.csv"
    other.write_text("label,text\n1,x\n", encoding="utf-8")
    with pytest.raises(IngestError, match="deontology: label, scenario, excuse"):
        load(Ethics(), other, store, tmp_path)


def test_split_of_file_names():
    assert [split_of(n) for n in ("cm_test_hard.csv", "justice_train.csv", "deontology_test.csv", "x.csv")] == [
        "test_hard", "train", "test", None]


def test_privacylens_json_and_flat_csv_load_onto_the_same_norms(shared_data, store, tmp_path):
    main = shared_file(shared_data, "privacylens/main_data.json")
    flat = shared_file(shared_data, "privacylens/privacylens_seeds_flat.csv")
    records = json.loads(main.read_bytes())
    rows = csv_rows(flat)
    s1 = load(PrivacyLens(), main, store, tmp_path)
    assert (s1.read, s1.loaded, s1.rejected) == (len(records), len(records), 0)
    s2 = load(PrivacyLens(), flat, store, tmp_path)
    in_main = sum(1 for r in rows if r["file"] == "main_data.json")
    assert in_main == len(records)
    assert (s2.read, s2.loaded, s2.updated, s2.duplicates, s2.rejected) == (
        len(rows), len(rows) - in_main, 0, in_main, 0)
    assert store.stats().by_label == {"unexpected": len(rows)}
    rec = records[0]
    norm = store.get_statement(statement_id("n", "privacylens", rec["name"]))
    seed = rec["seed"]
    assert norm.behavior == normalise_text(f"share {seed['data_type']}")
    assert norm.situation == rec["vignette"]["story"].strip()
    frame = {(c.subject, c.attribute): c.value for c in norm.constraints}
    assert frame[(Subject.person, "role")] == "lawyer"  # "the lawyer"
    assert frame[(Subject.other, "role")] == seed["data_recipient"]
    assert frame[(Subject.environment, "data subject")] == seed["data_subject"]
    assert frame[(Subject.environment, "transmission principle")] == seed["transmission_principle"]
    assert norm.provenance.source_file == "main_data.json" and norm.provenance.licence == "MIT"
    # The seed's source (regulation, literature, crowdsourcing …) is kept, the same from either format.
    assert norm.provenance.source_fields == {"source": seed["source"]}
    stored = Counter(s.provenance.source_fields.get("source") for s in store.iter_statements())
    assert stored == Counter(r["source"] for r in rows)
    assert stored == Counter(r["source"] for r in rows if r["file"] != "main_data.json") + Counter(
        r["seed"]["source"] for r in records)


def test_privacylens_bad_records(store, tmp_path):
    path = tmp_path / "pl.json"
    good = {"name": "t1", "seed": {"data_type": "a diagnosis", "data_subject": "a patient", "data_sender": "a nurse",
                                   "data_recipient": "a neighbour", "transmission_principle": "chat in person"},
            "vignette": {"story": "A nurse meets a neighbour."}}
    path.write_text(json.dumps([good, {"name": "t2"}, {"name": "t3", "seed": {"data_type": "x"}}, 7], indent=2),
                    encoding="utf-8")
    summary = load(PrivacyLens(), path, store, tmp_path)
    assert (summary.read, summary.loaded, summary.rejected) == (4, 1, 3)
    rejects = rejects_of(summary)
    assert [r["line"] for r in rejects] == sorted(r["line"] for r in rejects) and rejects[0]["line"] > 1
    assert "missing 'seed'" in rejects[0]["reason"] and "missing 'data_subject'" in rejects[1]["reason"]
    broken = tmp_path / "broken.json"
    broken.write_text('[{"name": "x",\n "seed": }]', encoding="utf-8")
    with pytest.raises(IngestError, match="line 2"):
        load(PrivacyLens(), broken, store, tmp_path)
