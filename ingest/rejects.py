"""Rejected rows: what a reader yields for a bad row, and the JSONL file they are written to.

Each line of a rejects file is ``{"file", "line", "reason", "raw"}``. The file is created only when the first
reject arrives, so a clean run leaves nothing behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import IO

import orjson

_MAX_RAW = 4000  # a reject should show the row, not a whole runaway record


@dataclass(slots=True)
class Reject:
    line: int
    reason: str
    raw: str | None = None
    file: str | None = None  # set when a reader reads several files (a taxonomy directory)


def default_rejects_path(input_path: Path) -> Path:
    """``<input name>.rejects.jsonl`` in the current working directory."""
    return Path.cwd() / f"{Path(input_path).name}.rejects.jsonl"


class RejectsWriter:
    """Writes rejects to ``path``. ``append_from`` (a resumed ingest) keeps the file's first that many bytes —
    the rejects of the batches already committed — and appends after them."""

    def __init__(self, path: Path, default_file: str, append_from: int | None = None) -> None:
        self.path = path
        self.default_file = default_file
        self.count = 0
        self._fh: IO[bytes] | None = None
        if append_from is not None and path.is_file():
            self._fh = open(self.path, "r+b")
            self._fh.truncate(append_from)
            self._fh.seek(append_from)

    def write(self, reject: Reject) -> None:
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "wb")
        raw = reject.raw
        if raw is not None and len(raw) > _MAX_RAW:
            raw = raw[:_MAX_RAW] + "…"
        record = {"file": reject.file or self.default_file, "line": reject.line, "reason": reject.reason, "raw": raw}
        self._fh.write(orjson.dumps(record) + b"\n")
        self.count += 1

    @property
    def written_path(self) -> str | None:
        return str(self.path) if self.count else None

    def flush(self) -> None:
        if self._fh is not None:
            self._fh.flush()

    def size(self) -> int:
        return self._fh.tell() if self._fh is not None else 0

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
