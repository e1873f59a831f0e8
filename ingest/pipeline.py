"""The one ingest pipeline: reader records -> validation -> batched upserts -> counts, rejects, progress.

A reader is a generator of ``(line, model)`` pairs (``model`` built by ``ingest.canonical``) and ``Reject``s.
It raises ``IngestError`` for a whole-input failure (missing file, missing columns); a bad row is a
``Reject`` and never stops the run.

Counting (``IngestSummary``): ``read`` = rows seen (blank lines are not rows), ``loaded`` = inserted,
``updated`` = stored before with different content, ``duplicates`` = stored before unchanged, or repeated
with the same content earlier in the same input, ``rejected`` = written to the rejects file.
An empty input (no bytes, or nothing but blank lines) is an ``IngestError("empty file")`` — a zero summary would
hide a truncated download; a file with a header and no rows is a valid, empty summary.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Literal, Union

from normgraph.errors import IngestError
from normgraph.models import Concept, Statement
from normgraph.sources import IngestSummary
from normgraph.store.base import GraphStore, UpsertResult

from ingest.rejects import Reject, RejectsWriter, default_rejects_path

Record = Union[tuple[int, Statement], tuple[int, Concept], Reject]
_PROGRESS_EVERY = 512


@dataclass(slots=True)
class ByteCounter:
    """How far a reader has got through its input, for the progress bar."""

    done: int = 0


def check_file(path: Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise IngestError(f"{path}: no such file", {"file": str(path)})
    if path.is_dir():
        raise IngestError(f"{path}: is a directory, expected a file", {"file": str(path)})
    return path


def check_dir(path: Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise IngestError(f"{path}: no such directory", {"file": str(path)})
    if not path.is_dir():
        raise IngestError(f"{path}: is a file, expected a directory", {"file": str(path)})
    return path


def _fingerprint(item: Statement | Concept) -> int:
    if isinstance(item, Concept):
        return hash(item.model_dump_json(exclude={"provenance"}))
    return hash(
        (
            item.kind,
            item.text,
            item.setting,
            item.behavior,
            item.situation,
            item.country,
            getattr(item, "label", None),
            getattr(item, "constraints", None),
            getattr(item, "valence", None),
        )
    )


def _progress_bar(enabled: bool, total: int | None, unit: str, desc: str) -> Any:
    """A tqdm bar (by bytes when the total is known), only for a person watching a terminal."""
    if not enabled or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    if total:
        return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=desc, leave=False)
    return tqdm(unit=unit, desc=desc, leave=False)


def run(
    *,
    source: str,
    path: Path,
    records: Iterable[Record],
    store: GraphStore,
    what: Literal["statements", "concepts"] = "statements",
    rejects_path: Path | None = None,
    progress: bool = True,
    batch_size: int = 5000,
    counter: ByteCounter | None = None,
    total_bytes: int | None = None,
) -> IngestSummary:
    """Drain ``records`` into ``store`` and return what happened."""
    start = time.perf_counter()
    path = Path(path)
    batch_size = max(1, int(batch_size))
    rejects = RejectsWriter(Path(rejects_path) if rejects_path else default_rejects_path(path), str(path))
    summary = IngestSummary(source=source, path=str(path))
    result = UpsertResult()
    upsert = store.upsert_concepts if what == "concepts" else store.upsert_statements
    seen: dict[str, tuple[int, int]] = {}
    batch: list = []
    bar = _progress_bar(progress, total_bytes if counter is not None else None, "rows", source)
    shown = 0

    def flush() -> None:
        if batch:
            result.__iadd__(upsert(batch))
            if what == "concepts":
                summary.concepts += len(batch)
            batch.clear()

    try:
        for n, record in enumerate(records, 1):
            summary.read += 1
            if isinstance(record, Reject):
                rejects.write(record)
            else:
                line, item = record
                fp = _fingerprint(item)
                first = seen.get(item.id)
                if first is None:
                    seen[item.id] = (line, fp)
                    batch.append(item)
                    if len(batch) >= batch_size:
                        flush()
                elif first[1] == fp:
                    summary.duplicates += 1
                else:
                    rejects.write(
                        Reject(line, f"id {item.id} was already used on line {first[0]} for different content")
                    )
            if bar is not None and n % _PROGRESS_EVERY == 0:
                now = counter.done if counter is not None else n
                bar.update(now - shown)
                shown = now
        flush()
    finally:
        rejects.close()
        if bar is not None:
            bar.close()

    summary.loaded = result.inserted
    summary.updated = result.updated
    summary.duplicates += result.unchanged
    summary.rejected = rejects.count
    summary.rejects_path = rejects.written_path
    summary.seconds = round(time.perf_counter() - start, 3)
    return summary


def format_summary(summary: IngestSummary) -> str:
    """A short human report of one ingest, for the CLI and logs."""
    rate = f" ({summary.read / summary.seconds:,.0f} rows/s)" if summary.seconds > 0 and summary.read else ""
    lines = [
        f"{summary.source}: {summary.path}",
        f"  read {summary.read:,} in {summary.seconds:.1f} s{rate}",
        f"  loaded {summary.loaded:,}, updated {summary.updated:,}, duplicates {summary.duplicates:,}, "
        f"rejected {summary.rejected:,}" + (f", concepts {summary.concepts:,}" if summary.concepts else ""),
    ]
    if summary.rejected and summary.rejects_path:
        lines.append(f"  rejected rows (file, line, reason) are in {summary.rejects_path}")
    return "\n".join(lines)
