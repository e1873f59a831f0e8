"""Reading JSON Lines files the way every JSON Lines reader here needs: resumable from a checkpoint, counting
bytes and physical lines for progress and checkpoints, blank lines skipped, a leading BOM dropped."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from normgraph.errors import IngestError

from ingest.checkpoint import Position
from ingest.limits import MAX_ROW_BYTES, oversized, read_line
from ingest.pipeline import ByteCounter
from ingest.rejects import Reject
from ingest.tabular import open_binary

_BOM = b"\xef\xbb\xbf"


def json_lines(
    path: Path, counter: ByteCounter, start: Position | None = None
) -> Iterator[tuple[int, bytes] | Reject]:
    """``(line number, raw line)`` of each non-blank line, after ``start`` when given, and a ``Reject`` for a
    line over ``MAX_ROW_BYTES`` (ingest/limits.py). ``counter`` stands just after the line handed over, so a
    checkpoint taken then resumes at the next one. An empty file is an ``IngestError``."""
    rows = 0
    with open_binary(path) as fh:
        if start is not None:
            fh.seek(start.offset)
            counter.done, counter.line = start.offset, start.line
            rows = 1  # the part before the checkpoint was not empty
        while True:
            raw, size = read_line(fh)
            if not size:
                break
            counter.done += size
            counter.line += 1
            if size > MAX_ROW_BYTES:
                rows += 1
                yield Reject(counter.line, oversized(size), line_text(raw) + "…")
                continue
            if not raw.strip():
                continue
            rows += 1
            if counter.line == 1 and raw.startswith(_BOM):
                raw = raw[len(_BOM):]
            yield counter.line, raw
    if rows == 0:
        raise IngestError(f"{path}: empty file", {"file": str(path)})


def line_text(raw: bytes) -> str:
    """A raw line as text for a rejects file (undecodable bytes replaced, line ending dropped)."""
    return raw.decode("utf-8", "replace").rstrip("\r\n")
