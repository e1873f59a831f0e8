"""NormBank.csv reader on a real Oxigraph store: the published sample, re-ingest, and every kind of bad input."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest

from ingest.sources.normbank import NormBankCsv
from normgraph.errors import IngestError
from normgraph.ids import statement_id
from normgraph.models import Label, Subject

HEADER = "setting,behavior,setting-behavior,constraints,constraints_given,constraint_predict,norm,label,split"


def good_row(setting: str, behavior: str, frame: str, norm: str, label: str, split: str = "train") -> str:
    return f"{setting},{behavior},{setting} [BEHAVIOR] {behavior},{frame},{frame} [AND] ,,{norm},{label},{split}"


def rejects_of(summary) -> list[dict]:
    assert summary.rejects_path, "expected a rejects file"
    return [json.loads(line) for line in Path(summary.rejects_path).read_text(encoding="utf-8").splitlines()]


def test_sample_loads_fifty_norms_with_labels_frames_and_text(sample_csv, store, tmp_path):
    summary = NormBankCsv().load(sample_csv, store, rejects_path=tmp_path / "rejects.jsonl", progress=False)

    with open(sample_csv, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 50
    assert (summary.read, summary.loaded, summary.duplicates, summary.rejected) == (50, 50, 0, 0)
    assert summary.rejects_path is None and not (tmp_path / "rejects.jsonl").exists()

    stats = store.stats()
    assert stats.statements == 50
    words = {"expected": "expected", "normal": "okay", "taboo": "unexpected"}
    assert stats.by_label == dict(Counter(words[r["norm"]] for r in rows))
    assert stats.by_setting == dict(Counter(r["setting"] for r in rows))

    # Row on line 3 is the toddler override of "shouting in a restaurant is unexpected".
    toddler = store.get_statement(statement_id("n", "normbank", "3"))
    assert toddler.text == "In a restaurant, a toddler customer shouting is okay."
    assert toddler.label is Label.okay
    assert [(c.subject, c.attribute, c.value) for c in toddler.constraints] == [
        (Subject.person, "role", "customer"),
        (Subject.person, "age bracket", "toddler"),
    ]
    assert toddler.provenance.source == "normbank" and toddler.provenance.source_row == "3"
    assert toddler.provenance.licence == "CC BY-SA 4.0"
    assert toddler.split == "train"
    japan = store.get_statement(statement_id("n", "normbank", "15"))
    assert japan.country == "japan" and japan.label is Label.unexpected


def test_reingesting_the_sample_is_a_no_op(sample_csv, store, tmp_path):
    first = NormBankCsv().load(sample_csv, store, rejects_path=tmp_path / "r.jsonl", progress=False)
    before = store.stats()
    second = NormBankCsv().load(sample_csv, store, rejects_path=tmp_path / "r.jsonl", progress=False)
    assert first.loaded == 50
    assert (second.read, second.loaded, second.updated, second.duplicates, second.rejected) == (50, 0, 0, 50, 0)
    assert store.stats() == before


def test_bad_rows_are_rejected_with_file_and_line_and_good_rows_load(sample_csv, store, tmp_path):
    sample_lines = sample_csv.read_text(encoding="utf-8").splitlines()
    good = sample_lines[1:9]  # eight good rows from the sample
    bad_rows = {
        "malformed": good_row("restaurant", "shout", "[PERSON]'s role 'customer'", "taboo", "0"),
        "unknown_norm": good_row("restaurant", "shout", "[PERSON]'s role is 'cook'", "great", "2"),
        "unknown_label": good_row("restaurant", "shout", "[PERSON]'s role is 'cook'", "normal", "7"),
        "disagree": good_row("restaurant", "shout", "[PERSON]'s role is 'cook'", "taboo", "2"),
        "empty_setting": good_row("", "shout", "[PERSON]'s role is 'cook'", "normal", "1"),
        "bad_subject": good_row("bar", "sing", "[BOSS]'s role is 'cook'", "normal", "1"),
        "short": "restaurant,shout,restaurant [BEHAVIOR] shout",
    }
    lines: list[bytes] = [HEADER.encode()]
    expected: dict[int, str] = {}
    for i, g in enumerate(good):
        lines.append(g.encode())
        if i < len(bad_rows):
            name, row = list(bad_rows.items())[i]
            lines.append(row.encode())
            expected[len(lines)] = name
    lines.append(good_row("library", "read", "[PERSON]'s role is 'patr\xf3n'", "normal", "1").encode("latin-1"))
    expected[len(lines)] = "not_utf8"
    lines.append(good[0].encode()[:40])  # truncated last line, no newline
    expected[len(lines)] = "truncated"
    path = tmp_path / "NormBank.csv"
    path.write_bytes(b"\n".join(lines))

    summary = NormBankCsv().load(path, store, rejects_path=tmp_path / "rejects.jsonl", progress=False)

    assert summary.loaded == len(good) == store.stats().statements
    assert summary.rejected == len(expected)
    assert summary.read == len(good) + len(expected)
    rejects = rejects_of(summary)
    assert {r["line"]: r["file"] for r in rejects} == {n: str(path) for n in expected}
    reasons = {r["line"]: r["reason"] for r in rejects}
    words = {
        "malformed": "not a NormBank constraint",
        "unknown_norm": "unknown norm 'great'",
        "unknown_label": "unknown label '7'",
        "disagree": "label 2 disagrees with norm 'taboo'",
        "empty_setting": "empty setting",
        "bad_subject": "unknown subject [BOSS]",
        "short": "expected 9 fields, found 3",
        "not_utf8": "not valid UTF-8: byte 0xf3",
        "truncated": "truncated",
    }
    for line, name in expected.items():
        assert words[name] in reasons[line], (name, reasons[line])
    assert all(r["raw"] for r in rejects)
    # The good rows keep their own physical line numbers as ids.
    assert store.get_statement(statement_id("n", "normbank", "2")) is not None


def test_unterminated_quote_rejects_only_its_line(store, tmp_path):
    rows = [
        HEADER,
        good_row("bar", "sing", "[PERSON]'s role is 'bartender'", "normal", "1"),
        'bar,"dance,bar [BEHAVIOR] dance,[PERSON]\'s role is \'bartender\',,,normal,1,train',
        good_row("bar", "tip", "[PERSON]'s role is 'customer'", "expected", "2"),
        good_row("bar", "cry", "[PERSON]'s role is 'customer'", "normal", "1"),
        'bar,drink,bar [BEHAVIOR] drink,"[PERSON]\'s role is \'customer\'',  # truncated inside quotes
    ]
    path = tmp_path / "quotes.csv"
    path.write_text("\n".join(rows), encoding="utf-8")
    summary = NormBankCsv().load(path, store, rejects_path=tmp_path / "r.jsonl", progress=False)
    assert summary.loaded == 3
    rejects = rejects_of(summary)
    assert [r["line"] for r in rejects] == [3, 6]
    assert all("unterminated quoted field" in r["reason"] for r in rejects)
    assert "last line" in rejects[1]["reason"]


def test_quoted_fields_with_commas_and_a_continued_line_load(store, tmp_path):
    rows = [
        HEADER,
        'bar,"sing, loudly","bar [BEHAVIOR] sing, loudly",[PERSON]\'s role is \'bartender\',,,normal,1,train',
        'bar,"talk\nloudly",bar [BEHAVIOR] talk loudly,[PERSON]\'s role is \'customer\',,,taboo,0,dev',
        good_row("bar", "tip", "[PERSON]'s role is 'customer'", "expected", "2"),
    ]
    path = tmp_path / "quoted.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    summary = NormBankCsv().load(path, store, rejects_path=tmp_path / "r.jsonl", progress=False)
    assert (summary.loaded, summary.rejected) == (3, 0)
    assert store.get_statement(statement_id("n", "normbank", "2")).behavior == "sing, loudly"
    assert store.get_statement(statement_id("n", "normbank", "3")).behavior == "talk loudly"
    # The row after the two-line record keeps its physical line number.
    assert store.get_statement(statement_id("n", "normbank", "5")).behavior == "tip"


def test_missing_columns_fail_the_whole_file_naming_them(store, tmp_path):
    path = tmp_path / "nocols.csv"
    path.write_text("setting,behavior,label,split\nbar,sing,1,train\n", encoding="utf-8")
    with pytest.raises(IngestError) as e:
        NormBankCsv().load(path, store, rejects_path=tmp_path / "r.jsonl", progress=False)
    msg = e.value.message
    assert str(path) in msg and "constraints" in msg and "norm" in msg
    assert e.value.details["missing"] == ["constraints", "norm"]
    assert store.stats().statements == 0


def test_extra_and_reordered_columns_are_fine(store, tmp_path):
    path = tmp_path / "reordered.csv"
    path.write_text(
        ",norm,label,constraints,behavior,setting\n0,taboo,0,[PERSON]'s role is 'patron',talk loudly,library\n",
        encoding="utf-8",
    )
    summary = NormBankCsv().load(path, store, rejects_path=tmp_path / "r.jsonl", progress=False)
    assert summary.loaded == 1
    norm = store.get_statement(statement_id("n", "normbank", "2"))
    assert (norm.setting, norm.behavior, norm.label) == ("library", "talk loudly", Label.unexpected)


def test_empty_file_is_an_ingest_error_but_a_header_only_file_is_an_empty_load(store, tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(IngestError, match="empty file") as e:
        NormBankCsv().load(empty, store, progress=False)
    assert str(empty) in e.value.message
    header_only = tmp_path / "header.csv"
    header_only.write_text(HEADER + "\n", encoding="utf-8")
    summary = NormBankCsv().load(header_only, store, rejects_path=tmp_path / "r.jsonl", progress=False)
    assert (summary.read, summary.loaded, summary.rejected) == (0, 0, 0)


def test_missing_file_and_directory_are_ingest_errors(store, tmp_path):
    with pytest.raises(IngestError, match="no such file"):
        NormBankCsv().load(tmp_path / "nope.csv", store, progress=False)
    with pytest.raises(IngestError, match="is a directory"):
        NormBankCsv().load(tmp_path, store, progress=False)


def test_reader_alone_yields_norms_and_rejects(sample_csv):
    records = list(NormBankCsv().records(sample_csv))
    assert len(records) == 50
    lines = [line for line, _ in records]
    assert lines == list(range(2, 52))
    assert len({n.id for _, n in records}) == 50
