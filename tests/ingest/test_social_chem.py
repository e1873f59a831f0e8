"""Social-Chem-101 reader on a real Oxigraph store: both shared subsets whole, the TSV layout, bad rows."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from ingest.sources.social_chem import COLUMNS, SocialChem
from normgraph.errors import IngestError
from normgraph.ids import concept_id, statement_id
from normgraph.models import Label, ReviewState

from .conftest import FIXTURES, rejects_of, shared_file

SUBSETS = ("social-chem-101/obligatory_sc101.csv", "social-chem-101/optional_sc101.csv")
LABELS = {1: "expected", 2: "expected", 0: "okay", -1: "unexpected", -2: "unexpected"}


def load(path: Path, store, tmp_path: Path, **kw):
    return SocialChem().load(path, store, rejects_path=tmp_path / "rejects.jsonl", progress=False, **kw)


def csv_rows(path: Path, delimiter: str = ",") -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter=delimiter))


def row_id(r: dict[str, str]) -> str:
    return statement_id("rot", "social-chem", f"{r['rot-id']}#{r['breakdown-worker-id']}")


@pytest.mark.parametrize("relative", SUBSETS)
def test_each_shared_subset_loads_completely(relative, shared_data, store, tmp_path):
    path = shared_file(shared_data, relative)
    rows = csv_rows(path)
    summary = load(path, store, tmp_path)

    assert (summary.read, summary.loaded, summary.rejected) == (len(rows), len(rows), 0)
    stats = store.stats()
    assert stats.by_kind == {"rule_of_thumb": len(rows)}
    assert stats.by_source == {"social-chem": len(rows)}
    assert stats.by_label == dict(Counter(LABELS[int(float(r["action-moral-judgment"]))] for r in rows))
    # Every row is there under its own id, with its rule, situation and action as written.
    for r in rows[:: max(1, len(rows) // 200)]:
        rot = store.get_statement(row_id(r))
        assert rot is not None, r["rot-id"]
        assert (rot.text, rot.situation, rot.action) == (r["rot"].strip(), r["situation"].strip(), r["action"].strip())
        assert rot.moral_foundations == tuple(f for f in r["rot-moral-foundations"].split("|") if f)
        assert rot.judgments["rot-agree"] == int(float(r["rot-agree"]))
        assert rot.judgments["rot-categorization"] == r["rot-categorization"].split("|")
        assert rot.judgments["characters"] == r["characters"].split("|")
        assert rot.provenance.agreement == float(r["rot-agree"]) / 4
        assert rot.provenance.licence == "CC BY-SA 4.0"
    # Actions became behaviour nodes: one per action, spellings that differ only in case and punctuation meeting.
    assert stats.concepts["behavior"] == len({concept_id("behavior", r["action"]) for r in rows})


def test_the_tsv_layout_reads_like_the_csv(shared_data, store, tmp_path, open_store_at):
    path = shared_file(shared_data, SUBSETS[1])
    rows = csv_rows(path)[:300]
    columns = list(rows[0])
    tsv = tmp_path / "social-chem-101.v1.0.tsv"
    small_csv = tmp_path / "small.csv"
    for target, delim in ((tsv, "\t"), (small_csv, ",")):
        with open(target, "w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, columns, delimiter=delim, lineterminator="\n")
            w.writeheader()
            w.writerows(rows)
    from_tsv = load(tsv, store, tmp_path)
    other = open_store_at(tmp_path / "other")
    from_csv = load(small_csv, other, tmp_path)
    assert from_tsv.loaded == from_csv.loaded == 300
    a = {s.id: s.model_dump(exclude={"provenance"}) for s in store.iter_statements()}
    b = {s.id: s.model_dump(exclude={"provenance"}) for s in other.iter_statements()}
    assert a == b


def test_fixture_tsv_fields_labels_and_review_states(store, tmp_path):
    path = FIXTURES / "social_chem_sample.tsv"
    rows = csv_rows(path, "\t")
    summary = load(path, store, tmp_path)
    assert (summary.read, summary.loaded, summary.rejected) == (len(rows), len(rows), 0) == (7, 7, 0)
    # The same rule broken down by two workers is two statements (m = 5 rows share a rot-id).
    yell = [store.get_statement(row_id(r)) for r in rows if r["rot-id"].endswith("ye11/WRK4/4/1")]
    assert len({s.id for s in yell}) == 2 and {s.judgments["action-moral-judgment"] for s in yell} == {-1, -2}
    assert all(s.label is Label.unexpected for s in yell)
    bad = store.get_statement(row_id(rows[5]))
    assert bad.review_state is ReviewState.rejected and bad.judgments["rot-bad"] == 1
    assert bad.label is None  # no action-moral-judgment
    assert bad.situation == 'Tom baked a cake, "for everyone", and ate it alone'
    tip = store.get_statement(row_id(rows[0]))
    assert (tip.action, tip.behavior, tip.label) == ("leave a tip.", "leave a tip", Label.expected)


def test_reingesting_is_a_no_op(store, tmp_path):
    path = FIXTURES / "social_chem_sample.tsv"
    load(path, store, tmp_path)
    before = store.stats()
    again = load(path, store, tmp_path)
    assert (again.loaded, again.updated, again.duplicates, again.rejected) == (0, 0, 7, 0)
    assert store.stats() == before


def test_bad_rows_are_rejected_with_line_and_reason(store, tmp_path):
    lines = (FIXTURES / "social_chem_sample.tsv").read_bytes().splitlines()
    header, good = lines[0], lines[1:4]
    cols = header.decode().split("\t")

    def variant(base: bytes, **changes: str) -> bytes:
        fields = base.decode().split("\t")
        for k, v in changes.items():
            fields[cols.index(k.replace("_", "-"))] = v
        return "\t".join(fields).encode()

    bad = {
        "rot_agree": variant(good[0], rot_agree="lots", rot_id="x/1"),
        "range": variant(good[0], action_moral_judgment="7.0", rot_id="x/2"),
        "empty_rot": variant(good[0], rot="  ", rot_id="x/3"),
        "short": b"amitheasshole\t1\ttrain",
        "latin1": variant(good[1], rot_id="x/4").replace(b"white", "wh\xeete".encode("latin-1")),
        "conflict": variant(good[2], rot="It's good to be honest.", rot_id="rot/reddit/amitheasshole/c00k01/WRK3/3/2"),
    }
    body = [header, *good, *bad.values()]
    path = tmp_path / "bad.tsv"
    path.write_bytes(b"\n".join(body) + b"\n")
    summary = load(path, store, tmp_path)
    assert summary.loaded == 3 and summary.rejected == len(bad) and summary.read == 3 + len(bad)
    reasons = {r["line"]: r["reason"] for r in rejects_of(summary)}
    expect = {
        5: "rot-agree: 'lots' is not a number",
        6: "action-moral-judgment: 7.0 is outside -2..2",
        7: "empty rot",
        8: "expected 25 fields, found 3",
        9: "not valid UTF-8: byte 0xee",
        10: "was already used on line 4 for different content",
    }
    assert set(reasons) == set(expect)
    for line, words in expect.items():
        assert words in reasons[line], (line, reasons[line])


def test_missing_required_columns_name_the_file_and_columns(store, tmp_path):
    path = tmp_path / "sc.tsv"
    path.write_text("area\tsituation\trot\nx\ty\tz\n", encoding="utf-8")
    with pytest.raises(IngestError) as e:
        load(path, store, tmp_path)
    assert str(path) in e.value.message and e.value.details["missing"] == ["rot-id", "action"]
    assert store.stats().statements == 0


def test_columns_are_the_published_25():
    assert len(COLUMNS) == 25 and len(set(COLUMNS)) == 25
