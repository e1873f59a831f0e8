"""Resumable ingest: an interrupted ingest restarts from its last committed checkpoint and ends in the same state
as an uninterrupted one — checked by killing a real ingest process mid-file (SIGKILL), and in-process."""

from __future__ import annotations

import csv
import importlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingest.checkpoint import Checkpoints, Position
from ingest.pipeline import ByteCounter, run_resumable
from ingest.rejects import Reject
from ingest.sources.jsonl import JsonlNorms
from ingest.sources.moral_stories import MoralStories
from ingest.sources.normbank import NormBankCsv
from ingest.sources.social_chem import SocialChem

from .conftest import FIXTURES, shared_file

REPO = Path(__file__).resolve().parents[2]


def replicate(src: Path, dst: Path, copies: int, bad_every: int = 0) -> int:
    """``copies`` copies of a Social-Chem file with fresh row ids (and, with ``bad_every``, a broken row every so
    often, so the rejects file is part of the state too). Returns the number of data rows written."""
    with open(src, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = list(reader)
    rot_id = header.index("rot-id")
    agree = header.index("rot-agree")
    n = 0
    with open(dst, "w", newline="", encoding="utf-8") as out:
        w = csv.writer(out, lineterminator="\n")
        w.writerow(header)
        for k in range(copies):
            for r in rows:
                r2 = list(r)
                r2[rot_id] = f"{r[rot_id]}/copy{k}"
                n += 1
                if bad_every and n % bad_every == 0:
                    r2[agree] = "many"
                w.writerow(r2)
    return n


def state(store) -> dict:
    """Everything stored, apart from the time each statement was written."""
    out = {}
    for s in store.iter_statements():
        d = s.model_dump(mode="json")
        d["provenance"].pop("created_at")
        out[s.id] = d
    return out


def concepts_state(store) -> dict:
    return {c.id: (c.label, c.alt_labels) for c in store.concepts("behavior")}


def replicate_normbank(src: Path, dst: Path, copies: int, bad_every: int) -> tuple[int, int]:
    """``copies`` copies of NormBank's sample rows (ids come from line numbers, so every copy is new), with now
    and then a row judged with an unknown norm (rejected), a row continued on a second line inside quotes
    (joined, loaded), an unterminated quote (rejected; the lines read ahead to try a join are given back) and a
    blank line. Returns (rows, rejected rows) as counted while writing."""
    header, *rows = src.read_text(encoding="utf-8").splitlines()
    n = rejected = 0
    with open(dst, "w", encoding="utf-8", newline="") as out:
        out.write(header + "\n")
        for _ in range(copies):
            for r in rows:
                n += 1
                f = r.split(",")
                if n % bad_every == 0:
                    f[6] = "sometimes"
                    rejected += 1
                elif n % 701 == 0:
                    f[2] = f'"{f[0]} [BEHAVIOR]\n{f[1]}"'
                elif n % 1301 == 0:
                    f[2] = f'"{f[2]}'
                    rejected += 1
                out.write(",".join(f) + "\n")
                if n % 977 == 0:
                    out.write("\n")
    return n, rejected


def replicate_jsonl(src: Path, dst: Path, copies: int, bad_every: int) -> tuple[int, int]:
    """``copies`` copies of the JSONL fixture with fresh ids, a broken line every ``bad_every`` rows and the
    fixture's blank line. Returns (rows, rejected rows)."""
    lines = src.read_text(encoding="utf-8").splitlines()
    n = rejected = 0
    with open(dst, "w", encoding="utf-8") as out:
        for k in range(copies):
            for i, line in enumerate(lines):
                if not line.strip():
                    out.write("\n")
                    continue
                n += 1
                if n % bad_every == 0:
                    out.write('{"text": "broken\n')
                    rejected += 1
                    continue
                obj = json.loads(line)
                obj["id"] = f"{obj.get('id', f'row{i}')}/copy{k}"
                out.write(json.dumps(obj) + "\n")
    return n, rejected


def _social_chem_file(request, tmp_path: Path) -> tuple[Path, int, int]:
    src = shared_file(request.getfixturevalue("shared_data"), "social-chem-101/optional_sc101.csv")
    data = tmp_path / "replicated.csv"
    rows = replicate(src, data, copies=4, bad_every=997)
    return data, rows, rows // 997


def _normbank_file(request, tmp_path: Path) -> tuple[Path, int, int]:
    src = shared_file(request.getfixturevalue("shared_data"), "normbank-format-sample.csv")
    data = tmp_path / "NormBank.csv"
    rows, rejected = replicate_normbank(src, data, copies=300, bad_every=499)
    return data, rows, rejected


def _jsonl_file(request, tmp_path: Path) -> tuple[Path, int, int]:
    data = tmp_path / "replicated.jsonl"
    rows, rejected = replicate_jsonl(FIXTURES / "statements.jsonl", data, copies=2500, bad_every=613)
    return data, rows, rejected


# reader name -> (module, class, a function writing the input and returning (path, rows, rejected rows))
KILLED_READERS = {
    "social-chem": ("ingest.sources.social_chem", "SocialChem", _social_chem_file),
    "normbank": ("ingest.sources.normbank", "NormBankCsv", _normbank_file),
    "jsonl": ("ingest.sources.jsonl", "JsonlNorms", _jsonl_file),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(KILLED_READERS))
def test_killed_ingest_resumes_to_the_same_end_state(name, request, tmp_path, open_store_at, caplog):
    module, cls, make = KILLED_READERS[name]
    data, rows, bad = make(request, tmp_path)
    reader = getattr(importlib.import_module(module), cls)()
    assert reader.name == name
    store_path = tmp_path / "killed" / "store"
    rejects = tmp_path / "killed.rejects.jsonl"
    script = (
        "import sys; from pathlib import Path\n"
        "from normgraph.store import open_store\n"
        f"from {module} import {cls}\n"
        "s = open_store('oxigraph', Path(sys.argv[1]))\n"
        f"print({cls}().load(Path(sys.argv[2]), s, rejects_path=Path(sys.argv[3]), progress=False,"
        " batch_size=1000).model_dump_json())\n"
        "s.close()\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script, str(store_path), str(data), str(rejects)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ck_dir = Checkpoints(Path(str(store_path) + ".checkpoints"))
    ck_file = ck_dir.file_for(name, data)
    deadline = time.monotonic() + 60
    while not ck_file.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert proc.poll() is None, f"the ingest finished before it could be interrupted: {proc.stderr.read()!r}"
    assert ck_file.exists(), "no checkpoint appeared within a minute"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    checkpoint = json.loads(ck_file.read_text())
    done = checkpoint["counts"]["read"]
    assert 0 < done < rows and checkpoint["position"]["offset"] > 0

    killed = open_store_at(store_path)
    assert 0 < killed.stats().statements < rows  # interrupted part-way
    with caplog.at_level(logging.INFO, logger="normgraph.ingest"):
        resumed = reader.load(data, killed, rejects_path=rejects, progress=False, batch_size=1000)
    assert not ck_file.exists()  # a finished ingest leaves no checkpoint
    # It went on from the checkpoint (the one on disk when it started may be a batch later than the one read).
    resumed_at = [r.getMessage() for r in caplog.records if "resuming" in r.getMessage()]
    assert len(resumed_at) == 1 and f"{name}: resuming {data} after line " in resumed_at[0]

    clean = open_store_at(tmp_path / "clean" / "store")
    full = reader.load(data, clean, rejects_path=tmp_path / "clean.rejects.jsonl", progress=False, batch_size=1000)
    assert killed.stats() == clean.stats()
    assert state(killed) == state(clean)
    assert concepts_state(killed) == concepts_state(clean)
    assert (resumed.read, resumed.rejected) == (full.read, full.rejected) == (rows, bad)
    # A batch committed after the last checkpoint is written again, unchanged.
    assert resumed.loaded + resumed.duplicates == full.loaded + full.duplicates
    assert rejects.read_text() == (tmp_path / "clean.rejects.jsonl").read_text()


def _comparable(record) -> tuple:
    """A record with the time its statement was built left out."""
    if isinstance(record, Reject):
        return ("reject", record.line, record.reason, record.raw)
    line, payload = record
    items = payload if isinstance(payload, (list, tuple)) else [payload]
    out = []
    for item in items:
        d = item.model_dump(mode="json")
        d["provenance"].pop("created_at")
        out.append(d)
    return (line, out)


NB_HEADER = "setting,behavior,setting-behavior,constraints,constraints_given,constraint_predict,norm,label,split"


def _nb(setting: str, behavior: str, norm: str = "normal", label: str = "1") -> str:
    frame = "[PERSON]'s role is 'customer'"
    return f"{setting},{behavior},{setting} [BEHAVIOR] {behavior},{frame},{frame} [AND] ,,{norm},{label},train"


NORMBANK_TRICKY = "\n".join([
    NB_HEADER,
    _nb("bar", "sing"),
    "",
    'bar,"talk\nloudly",bar [BEHAVIOR] talk loudly,[PERSON]\'s role is \'customer\',,,taboo,0,dev',
    'bar,"dance,bar [BEHAVIOR] dance,[PERSON]\'s role is \'bartender\',,,normal,1,train',  # unterminated quote
    _nb("bar", "tip", "expected", "2"),
    _nb("bar", "cry", "great"),
    "bar,shout,bar [BEHAVIOR] shout",
    _nb("bar", "read"),
]).encode() + b"\n" + _nb("library", "whisper caf\xe9").encode("latin-1") + b"\n" + _nb("bar", "nap").encode()

JSONL_TRICKY = b"\xef\xbb\xbf" + b"\n".join([
    b'{"text": "A customer tips.", "label": "expected", "setting": "bar", "behavior": "tip"}',
    b"",
    b'{"text": "broken',
    b"[1, 2]",
    b'{"text": "A customer sings.", "label": "okay", "id": "x1"}',
    b'{"text": "caf\xe9", "label": "okay"}',
    b'{"kind": "value", "text": "Honesty", "valence": "supports"}',
    b'{"text": "No label."}',
    b"",
    b'{"kind": "duty", "text": "Return what you borrow.", "id": 7}',
])


@pytest.mark.parametrize(
    "reader, content, n_records",
    [(NormBankCsv(), NORMBANK_TRICKY, 9), (JsonlNorms(), JSONL_TRICKY, 8)],
    ids=["normbank", "jsonl"],
)
def test_every_row_boundary_is_a_resume_point(reader, content, n_records, tmp_path):
    """Starting from the position the reader stood at after any row gives exactly the rows after it, with the
    same line numbers and ids — also after joined lines, lines read ahead and given back, and bad bytes."""
    path = tmp_path / ("NormBank.csv" if reader.name == "normbank" else "statements.jsonl")
    path.write_bytes(content)
    counter = ByteCounter()
    full, positions = [], []
    for record in reader.records(path, counter):
        full.append(_comparable(record))
        positions.append(counter.position())
    assert len(full) == n_records
    assert any(r[0] == "reject" for r in full) and any(r[0] != "reject" for r in full)
    assert positions[-1] == Position(len(content), content.count(b"\n") + 1)
    for i, position in enumerate(positions):
        after = ByteCounter()
        rest = [_comparable(r) for r in reader.records(path, after, start=position)]
        assert rest == full[i + 1:], f"resuming after record {i + 1} ({position})"
        assert after.position() == positions[-1]


def test_interrupted_ingest_resumes_from_its_checkpoint(store, tmp_path, open_store_at):
    """In-process: the reader stops with an exception after some batches; the next load continues from the
    checkpoint (it does not read the committed rows again) and ends like an uninterrupted load."""
    data = tmp_path / "stories.jsonl"
    base = [json.loads(x) for x in (FIXTURES / "moral_stories_sample.jsonl").read_text().splitlines()]
    with open(data, "w", encoding="utf-8") as fh:
        for k in range(50):
            for s in base:
                fh.write(json.dumps({**s, "ID": f"{s['ID']}-{k}"}) + "\n")
                if k == 20:
                    fh.write("{broken\n")
    reader = MoralStories()

    class Stop(Exception):
        pass

    def stopping(start, counter):
        for n, record in enumerate(reader.records(data, counter, start=start), 1):
            if n == 123:
                raise Stop
            yield record

    with pytest.raises(Stop):
        run_resumable(source=reader.name, path=data, store=store, records=stopping,
                      rejects_path=tmp_path / "r.jsonl", progress=False, batch_size=40)
    ck = Checkpoints.beside(store).load(reader.name, data)
    assert ck is not None and 100 < ck.counts["read"] < 123
    assert ck.counts["rejected"] == 4 and ck.counts["loaded"] == 3 * (ck.counts["read"] - 4)
    seen: list[int] = []

    def counting(start, counter):
        assert start == ck.position
        for record in reader.records(data, counter, start=start):
            seen.append(1)
            yield record

    summary = run_resumable(source=reader.name, path=data, store=store, records=counting,
                            rejects_path=tmp_path / "r.jsonl", progress=False, batch_size=40)
    assert len(seen) == 204 - ck.counts["read"]  # only the rows after the checkpoint were read again
    assert (summary.read, summary.rejected) == (204, 4)
    clean = open_store_at(tmp_path / "clean")
    full = reader.load(data, clean, rejects_path=tmp_path / "clean.jsonl", progress=False, batch_size=40)
    assert (full.read, full.rejected, full.loaded) == (204, 4, 600)
    assert state(store) == state(clean)
    assert (tmp_path / "r.jsonl").read_text() == (tmp_path / "clean.jsonl").read_text()


def test_a_changed_file_starts_over(store, tmp_path):
    data = tmp_path / "sc.tsv"
    data.write_bytes((FIXTURES / "social_chem_sample.tsv").read_bytes())
    reader = SocialChem()

    def stopping(start, counter):
        for n, record in enumerate(reader.records(data, counter, start=start), 1):
            if n == 4:
                raise RuntimeError("stop")
            yield record

    with pytest.raises(RuntimeError):
        run_resumable(source=reader.name, path=data, store=store, records=stopping,
                      rejects_path=tmp_path / "r.jsonl", progress=False, batch_size=2)
    checkpoints = Checkpoints.beside(store)
    assert checkpoints.load(reader.name, data) is not None
    data.write_bytes(data.read_bytes() + b"\n")  # edited since
    assert checkpoints.load(reader.name, data) is None
    summary = reader.load(data, store, rejects_path=tmp_path / "r.jsonl", progress=False, batch_size=2)
    assert summary.read == 7 and summary.loaded + summary.duplicates == 7
