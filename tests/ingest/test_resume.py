"""Resumable ingest: an interrupted ingest restarts from its last committed checkpoint and ends in the same state
as an uninterrupted one — checked by killing a real ingest process mid-file (SIGKILL), and in-process."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingest.checkpoint import Checkpoints
from ingest.pipeline import run_resumable
from ingest.sources.moral_stories import MoralStories
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


@pytest.mark.slow
def test_killed_ingest_resumes_to_the_same_end_state(shared_data, tmp_path, open_store_at):
    src = shared_file(shared_data, "social-chem-101/optional_sc101.csv")
    data = tmp_path / "replicated.csv"
    rows = replicate(src, data, copies=4, bad_every=997)
    store_path = tmp_path / "killed" / "store"
    rejects = tmp_path / "killed.rejects.jsonl"
    script = (
        "import sys; from pathlib import Path\n"
        "from normgraph.store import open_store\n"
        "from ingest.sources.social_chem import SocialChem\n"
        "s = open_store('oxigraph', Path(sys.argv[1]))\n"
        "print(SocialChem().load(Path(sys.argv[2]), s, rejects_path=Path(sys.argv[3]), progress=False,"
        " batch_size=1000).model_dump_json())\n"
        "s.close()\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script, str(store_path), str(data), str(rejects)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ck_dir = Checkpoints(Path(str(store_path) + ".checkpoints"))
    ck_file = ck_dir.file_for("social-chem", data)
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
    resumed = SocialChem().load(data, killed, rejects_path=rejects, progress=False, batch_size=1000)
    assert not ck_file.exists()  # a finished ingest leaves no checkpoint

    clean = open_store_at(tmp_path / "clean" / "store")
    full = SocialChem().load(data, clean, rejects_path=tmp_path / "clean.rejects.jsonl", progress=False,
                             batch_size=1000)
    assert killed.stats() == clean.stats()
    assert state(killed) == state(clean)
    assert concepts_state(killed) == concepts_state(clean)
    assert (resumed.read, resumed.rejected) == (full.read, full.rejected) == (rows, rows // 997)
    assert resumed.loaded + resumed.duplicates == full.loaded  # a batch after the last checkpoint is rewritten
    assert rejects.read_text() == (tmp_path / "clean.rejects.jsonl").read_text()


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
