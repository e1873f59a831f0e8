"""The one ingest pipeline: reader records -> validation -> batched upserts -> counts, rejects, progress.

A reader is a generator of ``(line, model)`` pairs (``model`` built by ``ingest.canonical``; a row that gives
several models yields ``(line, [models])``) and ``Reject``s. It raises ``IngestError`` for a whole-input failure (missing file, missing columns); a bad row is a
``Reject`` and never stops the run.

Counting (``IngestSummary``): ``read`` = rows seen (blank lines are not rows), ``loaded`` = inserted,
``updated`` = stored before with different content, ``duplicates`` = stored before unchanged, or repeated
with the same content earlier in the same input, ``rejected`` = written to the rejects file.
An empty input (no bytes, or nothing but blank lines) is an ``IngestError("empty file")`` — a zero summary would
hide a truncated download; a file with a header and no rows is a valid, empty summary.

Readers of large files go through ``run_resumable``: a checkpoint after every committed batch lets an interrupted
ingest continue where it stopped (``ingest.checkpoint``).
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Literal, Optional, Union, cast

from normgraph.errors import IngestError
from normgraph.ids import normalise_text
from normgraph.models import AnyStatement, Concept, Statement
from normgraph.sources import IngestSummary
from normgraph.store.base import GraphStore

from ingest.checkpoint import Checkpoint, Checkpoints, Position, fingerprint
from ingest.rejects import Reject, RejectsWriter, default_rejects_path

log = logging.getLogger("normgraph.ingest")

Item = Union[AnyStatement, Concept]
# A row gives one item or several (a Moral Stories row is a rule of thumb and two judged actions); ``read``
# counts rows, the other counts count items. Several items come as a list or a tuple (what ``run`` iterates).
Record = Union[tuple[int, Item], tuple[int, Union[list[Item], tuple[Item, ...]]], Reject]
RecordSource = Callable[[Optional[Position], "ByteCounter"], Iterable[Record]]
_PROGRESS_EVERY = 512


@dataclass(slots=True)
class ByteCounter:
    """How far a reader has got through its input: bytes and lines (or elements) consumed. Readers that can
    resume keep it exact at row boundaries: when they yield a row, it stands just after that row."""

    done: int = 0
    line: int = 0

    def position(self) -> Position:
        return Position(self.done, self.line)


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
    """What makes two items with one id the same item: their content, with texts compared as content-derived ids
    compare them (case and spacing aside), so "… Honey Crisp apples." and "… Honey crisp apples." are one row."""
    if isinstance(item, Concept):
        return hash(item.model_dump_json(exclude={"provenance"}))
    d = item.__dict__  # pydantic's __getattr__ for fields a kind lacks costs more than the whole hash
    return hash(
        (
            d["kind"],
            _loose(d["text"]),
            d["setting"],
            d["behavior"],
            _loose(d["situation"]),
            d["country"],
            d.get("label"),
            d.get("constraints"),
            d.get("valence"),
            _loose(d.get("explanation")),
            d.get("action"),
        )
    )


def _loose(text: str | None) -> str | None:
    return " ".join(text.split()).casefold() if text else text


def _alias_key(c: Concept) -> int:
    return hash((c.label, c.alt_labels, c.broader, c.related_settings))


def _progress_bar(enabled: bool, total: int | None, unit: str, desc: str, initial: int = 0) -> Any:
    """A tqdm bar (by bytes when the total is known), only for a person watching a terminal."""
    if not enabled or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    if total:
        return tqdm(total=total, initial=initial, unit="B", unit_scale=True, unit_divisor=1024, desc=desc,
                    leave=False)
    return tqdm(unit=unit, desc=desc, leave=False)


_COUNTS = ("read", "loaded", "updated", "duplicates", "rejected", "concepts")


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
    checkpoints: Checkpoints | None = None,
    resume: Checkpoint | None = None,
) -> IngestSummary:
    """Drain ``records`` into ``store`` and return what happened.

    ``what`` is the kind of item the counts are about. Concepts that come along with statements are of two sorts:

    - a vocabulary a statement refers to (concepts with more than a label, e.g. the MFD foundations): merged
      within the run and written once each;
    - the nodes a row's situation and behaviour name, under the row's spelling: the statement itself creates a
      node the store does not have yet, so only a spelling the node does not know yet is written, as an alias
      (after the batch's statements, so the node exists). ``concepts`` counts the concepts written.

    With ``checkpoints`` (and a ``counter`` the reader keeps exact), a checkpoint is written after every
    committed batch; ``resume`` is the checkpoint this run continues from (its counts are carried on).

    Batches are written in the reading thread: a writer thread overlapping the store's bulk writes (which run
    without the GIL) with reading measured no faster on a two-core machine, the Python halves of both
    contending for the GIL."""
    start = time.perf_counter()
    path = Path(path)
    batch_size = max(1, int(batch_size))
    rejects_file = Path(rejects_path) if rejects_path else default_rejects_path(path)
    # Continue the interrupted run's rejects file only if it is the same file (never cut another one).
    append_from = None
    if resume is not None and resume.rejects_path is not None and \
            Path(resume.rejects_path).resolve() == rejects_file.resolve():
        append_from = resume.rejects_size
    rejects = RejectsWriter(rejects_file, str(path), append_from=append_from)
    summary = IngestSummary(source=source, path=str(path))
    if resume is not None:
        for name in _COUNTS:
            setattr(summary, name, int(resume.counts.get(name, 0)))
        rejects.count = summary.rejected
    primary_concepts = what == "concepts"
    fp = fingerprint(path) if checkpoints is not None and counter is not None and path.is_file() else {}
    seen: dict[str, tuple[int, int]] = {}
    aux_seen: dict[str, set[int]] = {}
    # node id -> hash(es) of the normalised spellings the node has (or will have once its batch is written)
    spellings: dict[str, int | set[int]] = {}
    batch: list[Item] = []
    aux: list[Concept] = []
    bar = _progress_bar(progress, total_bytes if counter is not None else None, "rows", source,
                        initial=counter.done if counter is not None else 0)
    shown = counter.done if counter is not None else 0

    def flush() -> None:
        if batch:
            # One kind per batch: in a statements run ``add`` sends concepts to ``aux``; a concepts run's readers
            # yield only concepts.
            r = (store.upsert_concepts(cast("list[Concept]", batch)) if primary_concepts
                 else store.upsert_statements(cast("list[AnyStatement]", batch)))
            summary.loaded += r.inserted
            summary.updated += r.updated
            summary.duplicates += r.unchanged
            if primary_concepts:
                summary.concepts += len(batch)
            batch.clear()
        if aux:  # after the statements: a new node exists by now, and an alias merges into it
            store.upsert_concepts(aux)
            summary.concepts += len(aux)
            aux.clear()
        if checkpoints is not None and counter is not None:
            rejects.flush()
            summary.rejected = rejects.count
            checkpoints.save(
                Checkpoint(
                    source=source,
                    path=str(path),
                    fingerprint=fp,
                    position=counter.position(),
                    counts={name: getattr(summary, name) for name in _COUNTS},
                    rejects_path=rejects.written_path,
                    rejects_size=rejects.size(),
                )
            )

    def add_node(c: Concept) -> None:
        spelling = hash(normalise_text(c.label))
        known = spellings.get(c.id)
        if known is None:
            stored = store.get_concept(c.id)
            if stored is None:
                spellings[c.id] = spelling  # the statement naming it creates it under this spelling
                return
            known = spellings[c.id] = {hash(normalise_text(x)) for x in (stored.label, *stored.alt_labels)}
        if isinstance(known, int):
            if known == spelling:
                return
            known = spellings[c.id] = {known}
        if spelling in known:
            return
        known.add(spelling)
        aux.append(c)

    def add(line: int, item: Item) -> None:
        if isinstance(item, Concept) and not primary_concepts:
            if not (item.alt_labels or item.broader or item.related_settings or item.definition
                    or item.attribute or item.subject):
                add_node(item)
                return
            key = _alias_key(item)
            known = aux_seen.get(item.id)
            if known is None:
                aux_seen[item.id] = {key}
            elif key in known:
                return
            else:
                known.add(key)
            aux.append(item)
            return
        fp_item = _fingerprint(item)
        first = seen.get(item.id)
        if first is None:
            seen[item.id] = (line, fp_item)
            batch.append(item)
        elif first[1] == fp_item:
            summary.duplicates += 1
        else:
            rejects.write(Reject(line, f"id {item.id} was already used on line {first[0]} for different content"))

    try:
        for n, record in enumerate(records, 1):
            summary.read += 1
            if isinstance(record, Reject):
                rejects.write(record)
            else:
                line, payload = record
                if isinstance(payload, (list, tuple)):
                    for item in payload:
                        add(line, item)
                else:
                    add(line, payload)
                # Batches end at row boundaries: a checkpoint after a row means all of its items are written.
                if len(batch) >= batch_size or len(aux) >= batch_size:
                    flush()
            if bar is not None and n % _PROGRESS_EVERY == 0:
                now = counter.done if counter is not None else n
                bar.update(now - shown)
                shown = now
        flush()
    finally:
        rejects.close()
        if bar is not None:
            bar.close()

    summary.rejected = rejects.count
    summary.rejects_path = rejects.written_path
    summary.seconds = round(time.perf_counter() - start, 3)
    if checkpoints is not None and counter is not None:
        checkpoints.clear(source, path)
    return summary


def run_resumable(
    *,
    source: str,
    path: Path,
    records: RecordSource,
    store: GraphStore,
    rejects_path: Path | None = None,
    progress: bool = True,
    batch_size: int = 5000,
) -> IngestSummary:
    """``run`` with checkpoints beside the store: continue an interrupted ingest of ``path`` where its last
    committed batch ended. ``records(start, counter)`` streams the rows after ``start`` (None: from the top)."""
    path = check_file(path)
    checkpoints = Checkpoints.beside(store)
    resume = checkpoints.load(source, path) if checkpoints is not None else None
    if resume is not None:
        log.info("%s: resuming %s after line %d (byte %d)", source, path, resume.position.line,
                 resume.position.offset)
        if resume.rejects_path and rejects_path is None:
            rejects_path = Path(resume.rejects_path)
    counter = ByteCounter()
    return run(
        source=source,
        path=path,
        records=records(resume.position if resume is not None else None, counter),
        store=store,
        rejects_path=rejects_path,
        progress=progress,
        batch_size=batch_size,
        counter=counter,
        total_bytes=path.stat().st_size,
        checkpoints=checkpoints,
        resume=resume,
    )


class WholeInputSource:
    """``load`` for a reader that takes its input whole (a JSON document, a taxonomy directory, a lexicon): no
    checkpoints, these inputs are small. Subclasses set ``what`` and ``check`` (``check_file`` or
    ``check_dir``) and give ``records_for(path, store)``."""

    name: str
    what: Literal["statements", "concepts"] = "concepts"
    check: Callable[[Path], Path] = staticmethod(check_file)
    # Given by subclasses (declared, not defined: a subclass that overrides ``records_for`` may take other
    # arguments, or have no ``records`` at all).
    records: Callable[..., Iterable[Record]]

    def records_for(self, path: Path, store: GraphStore) -> Iterable[Record]:
        return self.records(path)

    def load(
        self,
        path: Path,
        store: GraphStore,
        *,
        rejects_path: Path | None = None,
        progress: bool = True,
        batch_size: int = 5000,
    ) -> IngestSummary:
        path = self.check(path)
        return run(
            source=self.name,
            path=path,
            records=self.records_for(path, store),
            store=store,
            what=self.what,
            rejects_path=rejects_path,
            progress=progress,
            batch_size=batch_size,
        )


class ResumableFileSource:
    """``load`` for a reader of one file that can start mid-file: ``self.records(path, counter, start=…)``
    streams the rows after a checkpoint, so an interrupted ingest continues where it stopped."""

    name: str
    # Given by subclasses as ``records(path, counter, *, start)`` (declared, not defined).
    records: Callable[..., Iterable[Record]]

    def load(
        self,
        path: Path,
        store: GraphStore,
        *,
        rejects_path: Path | None = None,
        progress: bool = True,
        batch_size: int = 5000,
    ) -> IngestSummary:
        path = check_file(path)
        return run_resumable(
            source=self.name,
            path=path,
            records=lambda start, counter: self.records(path, counter, start=start),
            store=store,
            rejects_path=rejects_path,
            progress=progress,
            batch_size=batch_size,
        )


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
