"""Checkpoints of a running ingest, so an interrupted one restarts after its last committed batch.

After every batch the store has committed, the pipeline writes (atomically: a temporary file, then a rename)
where the reader stood at that moment — the byte offset and line just after the last row of the batch — the
input's fingerprint, the counts so far and the size of the rejects file. The next ingest of the same input
into the same store finds it and resumes from there: the reader reads the header, seeks to the offset and
goes on; the rejects file is cut back to its committed size and appended to. A finished ingest removes its
checkpoint. Upserts are idempotent, so a crash between a commit and its checkpoint only means that batch is
written again, unchanged.

Checkpoints live beside the store: ``<store path>.checkpoints/<source>-<hash of the input's path>.json``.
A checkpoint whose fingerprint no longer matches the input (the file was replaced or edited) is ignored and
the ingest starts from the beginning.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("normgraph.ingest")

_HEAD_BYTES = 1 << 20


@dataclass(frozen=True)
class Position:
    """Where a reader stands: bytes consumed, and lines (or elements) consumed."""

    offset: int
    line: int


@dataclass
class Checkpoint:
    source: str
    path: str
    fingerprint: dict[str, Any]
    position: Position
    counts: dict[str, int] = field(default_factory=dict)
    rejects_path: str | None = None
    rejects_size: int = 0

    def to_json(self) -> str:
        data = asdict(self)
        return json.dumps(data, indent=1)

    @classmethod
    def from_json(cls, text: str) -> "Checkpoint":
        data = json.loads(text)
        data["position"] = Position(**data["position"])
        return cls(**data)


def fingerprint(path: Path) -> dict[str, Any]:
    """Size, modification time and a hash of the first MiB: enough to tell the same file from a replaced one."""
    st = path.stat()
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        h.update(fh.read(_HEAD_BYTES))
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "head_sha256": h.hexdigest()}


class Checkpoints:
    """The checkpoint files of one store."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    @classmethod
    def beside(cls, store: object) -> "Checkpoints | None":
        """The checkpoints of ``store`` if it lives on disk (has a ``path``), else None (no resuming)."""
        path = getattr(store, "path", None)
        if path is None:
            return None
        return cls(Path(str(path) + ".checkpoints"))

    def file_for(self, source: str, path: Path) -> Path:
        key = hashlib.sha256(str(Path(path).resolve()).encode("utf-8")).hexdigest()[:16]
        return self.directory / f"{source}-{key}.json"

    def load(self, source: str, path: Path) -> Checkpoint | None:
        """The checkpoint of an interrupted ingest of ``path`` by ``source``, if it still fits the file."""
        file = self.file_for(source, path)
        try:
            ck = Checkpoint.from_json(file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (ValueError, TypeError, KeyError) as e:
            log.warning("ignoring unreadable checkpoint %s: %s", file, e)
            return None
        if ck.source != source or ck.fingerprint != fingerprint(Path(path)):
            log.warning("%s changed since the interrupted ingest; starting from the beginning", path)
            return None
        return ck

    def save(self, ck: Checkpoint) -> None:
        file = self.file_for(ck.source, Path(ck.path))
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = file.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(ck.to_json())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, file)

    def clear(self, source: str, path: Path) -> None:
        self.file_for(source, path).unlink(missing_ok=True)
