"""Rows no query could ever reach are rejects with their line and reason, and the rest of the file loads:
rows over the size limit (read without holding them in memory), frames that contradict themselves, and
setting names the API cannot be asked for."""

from __future__ import annotations

import io
import json
import tracemalloc
from pathlib import Path

from ingest.limits import HEAD_BYTES, MAX_ROW_BYTES, read_line
from ingest.sources.jsonl import JsonlNorms
from ingest.sources.normbank import NormBankCsv
from ingest.sources.social_chem import SocialChem
from normgraph.models import MAX_LABEL_CHARS

from .conftest import FIXTURES, rejects_of


def _norm(i: int, **extra) -> str:
    row = {"kind": "norm", "setting": "restaurant", "behavior": f"behaviour {i}", "label": "okay", "id": f"r{i}",
           "text": f"In a restaurant, behaviour {i} is okay."}
    return json.dumps(row | extra)


def test_a_line_over_the_limit_is_read_in_bounded_memory() -> None:
    big = b"x" * (50 * 1024 * 1024)
    fh = io.BytesIO(b"first\n" + big + b"\nlast\n")
    assert read_line(fh) == (b"first\n", 6)
    tracemalloc.start()
    head, size = read_line(fh)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert size == len(big) + 1 and head == big[:HEAD_BYTES]
    assert peak < 4 * MAX_ROW_BYTES, f"peak {peak:,} bytes for a 50 MB line"
    assert read_line(fh) == (b"last\n", 5)
    assert read_line(fh) == (b"", 0)


def test_an_oversized_jsonl_row_is_a_reject_and_the_rest_loads(store, tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    huge = _norm(2, text="y" * (MAX_ROW_BYTES + 10))
    path.write_text("\n".join([_norm(1), huge, _norm(3)]) + "\n", encoding="utf-8")
    summary = JsonlNorms().load(path, store, rejects_path=tmp_path / "rejects.jsonl", progress=False)
    assert (summary.loaded, summary.rejected) == (2, 1)
    [reject] = rejects_of(summary)
    assert reject["line"] == 2 and "over the limit" in reject["reason"]
    assert len(json.dumps(reject)) < 2_000  # the rejects file keeps the head of the row, not the row
    # re-running resumes or re-reads without tripping on it again, and duplicates nothing
    again = JsonlNorms().load(path, store, rejects_path=tmp_path / "rejects2.jsonl", progress=False)
    assert again.rejected == 1 and store.stats().statements == 2


def test_an_oversized_tsv_row_is_a_reject(store, tmp_path: Path) -> None:
    lines = (FIXTURES / "social_chem_sample.tsv").read_text(encoding="utf-8").splitlines(keepends=True)
    header, first, rest = lines[0], lines[1], lines[2:]
    fields = first.rstrip("\n").split("\t")
    fields[-1] = "z" * (MAX_ROW_BYTES + 1)  # one enormous cell
    path = tmp_path / "sc.tsv"
    path.write_text(header + "\t".join(fields) + "\n" + "".join(rest), encoding="utf-8")
    summary = SocialChem().load(path, store, rejects_path=tmp_path / "rejects.jsonl", progress=False)
    reasons = {r["line"]: r["reason"] for r in rejects_of(summary)}
    assert "over the limit" in reasons[2], reasons
    assert summary.loaded >= 1


def test_an_oversized_normbank_row_is_a_reject(store, tmp_path: Path) -> None:
    header = "setting,behavior,setting-behavior,constraints,constraints_given,constraint_predict,norm,label,split\n"
    good = "restaurant,shout,restaurant-shout,[PERSON]'s role is 'customer',,,taboo,0,train\n"
    huge = "restaurant," + "w" * (MAX_ROW_BYTES + 1) + ",x,,,,taboo,0,train\n"
    path = tmp_path / "NormBank.csv"
    path.write_text(header + good + huge + good.replace("shout", "sing"), encoding="utf-8")
    summary = NormBankCsv().load(path, store, rejects_path=tmp_path / "rejects.jsonl", progress=False)
    assert (summary.loaded, summary.rejected) == (2, 1)
    [reject] = rejects_of(summary)
    assert reject["line"] == 3 and "over the limit" in reject["reason"]


def test_a_frame_that_contradicts_itself_is_a_reject(store, tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    contradiction = "[PERSON]'s role is 'customer' [AND] [PERSON]'s role is not 'customer'"
    two_ages = "[PERSON]'s age bracket is 'toddler' [AND] [PERSON]'s age bracket is 'teen'"
    path.write_text("\n".join([_norm(1), _norm(2, frame=contradiction), _norm(3, frame=two_ages), _norm(4)]) + "\n")
    summary = JsonlNorms().load(path, store, rejects_path=tmp_path / "rejects.jsonl", progress=False)
    assert (summary.loaded, summary.rejected) == (2, 2)
    reasons = {r["line"]: r["reason"] for r in rejects_of(summary)}
    assert set(reasons) == {2, 3}
    assert "customer" in reasons[2] and "toddler" in reasons[3], reasons


def test_setting_names_the_api_cannot_accept_are_rejects(store, tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    rows = [_norm(1), _norm(2, setting="\u0000"), _norm(3, setting="s" * 100_000), _norm(4, behavior="b\u0007ell"), _norm(5)]
    path.write_text("\n".join(rows) + "\n")
    summary = JsonlNorms().load(path, store, rejects_path=tmp_path / "rejects.jsonl", progress=False)
    assert (summary.loaded, summary.rejected) == (2, 3)
    reasons = {r["line"]: r["reason"] for r in rejects_of(summary)}
    assert "control character U+0000" in reasons[2]
    assert f"limit of {MAX_LABEL_CHARS}" in reasons[3]
    assert "U+0007" in reasons[4]
