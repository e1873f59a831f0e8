"""Delimited files (CSV, TSV) as published: header, rows with their line numbers, and where each row ends.

Shared by the readers of tabular sources (Social-Chem-101, ValuePrism, ETHICS, PrivacyLens, UDHR). The file is
read in binary, line by line, so that

- the delimiter is detected from the header (a tab in it means TSV, else CSV), so the published Social-Chem
  TSV and CSV subsets with the same columns both read;
- quoted fields may span lines (PrivacyLens stories, ETHICS commonsense posts), and a row's line number is
  the physical line it starts on (the header is line 1);
- a line that is not UTF-8 rejects its row only;
- the reader knows the byte offset at which each row ends, so an interrupted ingest can resume from the last
  committed row (``start``), reading the header first and then seeking past the rows already loaded.
"""

from __future__ import annotations

import csv
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Iterator, Sequence

from normgraph.errors import IngestError, InvalidInput
from pydantic import ValidationError

from ingest.checkpoint import Position
from ingest.pipeline import ByteCounter, Record, ResumableFileSource, check_file
from ingest.limits import MAX_ROW_BYTES, oversized, read_line
from ingest.rejects import Reject

# ETHICS commonsense posts run to several kilobytes; the csv module's default cap is 128 KiB.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


@dataclass(frozen=True)
class Table:
    """The layout of one delimited file."""

    path: Path
    delimiter: str
    names: tuple[str, ...]  # header names as written (trimmed)
    index: dict[str, int]  # lower-cased name -> column

    @property
    def width(self) -> int:
        return len(self.names)

    @property
    def kind(self) -> str:
        return "TSV" if self.delimiter == "\t" else "CSV"

    def has(self, *columns: str) -> bool:
        return all(c in self.index for c in columns)


def read_header(
    fh: IO[bytes],
    path: Path,
    counter: ByteCounter,
    *,
    required: Sequence[str] = (),
    expected: str = "",
) -> Table:
    """Read line 1 as the header. Missing ``required`` columns are an ``IngestError`` naming what was found;
    ``expected`` describes the layout for that message."""
    raw = fh.readline()
    counter.done += len(raw)
    counter.line += 1
    if not raw:
        raise IngestError(f"{path}: empty file", {"file": str(path)})
    if not raw.strip():
        raise IngestError(f"{path}: line 1: empty header line" + (f" (expected {expected})" if expected else ""),
                          {"file": str(path), "line": 1})
    try:
        text = raw.decode("utf-8-sig").rstrip("\r\n")
    except UnicodeDecodeError as e:
        raise IngestError(f"{path}: line 1: header is not UTF-8 ({e})", {"file": str(path), "line": 1}) from None
    delimiter = "\t" if "\t" in text else ","
    try:
        names = tuple(n.strip() for n in next(csv.reader([text], delimiter=delimiter, strict=True)))
    except csv.Error as e:
        raise IngestError(f"{path}: line 1: unreadable header: {e}", {"file": str(path), "line": 1}) from None
    index: dict[str, int] = {}
    for i, n in enumerate(names):
        key = n.lower()
        if key in index and key in required:
            raise IngestError(f"{path}: line 1: column {n!r} appears twice", {"file": str(path), "line": 1})
        index.setdefault(key, i)
    missing = [c for c in required if c not in index]
    if missing:
        raise IngestError(
            f"{path}: missing required column(s) {', '.join(missing)}"
            + (f" (expected {expected}" if expected else " (")
            + f"; found {', '.join(names) or 'none'})",
            {"file": str(path), "missing": missing, "found": list(names)},
        )
    return Table(path, delimiter, names, index)


class _Lines:
    """Physical lines for ``csv.reader``, decoded one at a time, counting bytes and lines as they are taken.

    csv.reader pulls a line only when the row it is parsing needs one, so when it hands over a row the counter
    stands exactly at that row's end."""

    def __init__(self, fh: IO[bytes], counter: ByteCounter) -> None:
        self.fh = fh
        self.counter = counter
        self.bad: str | None = None  # first decoding problem in the current row
        self.raw: list[str] = []  # the current row's lines, for the rejects file

    def __iter__(self) -> "_Lines":
        return self

    def __next__(self) -> str:
        raw, size = read_line(self.fh)
        if not size:
            raise StopIteration
        self.counter.done += size
        self.counter.line += 1
        if size > MAX_ROW_BYTES:
            # csv.reader gets an empty line in its place (it may be inside a quoted field); the row is a reject.
            if self.bad is None:
                self.bad = f"line {self.counter.line}: {oversized(size)}"
            self.raw.append(raw.decode("utf-8", "replace") + "…\n")
            return "\n"
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            if self.bad is None:
                self.bad = (f"line {self.counter.line} is not valid UTF-8: byte 0x{raw[e.start]:02x} "
                            f"at column {e.start + 1}")
            text = raw.decode("utf-8", "replace")
        self.raw.append(text)
        return text

    def start_row(self) -> None:
        self.bad = None
        self.raw.clear()

    def text(self) -> str:
        return "".join(self.raw).rstrip("\r\n")


def rows(
    fh: IO[bytes], table: Table, counter: ByteCounter, *, start: Position | None = None
) -> Iterator[tuple[int, list[str]] | Reject]:
    """``(line, fields)`` for each row with the header's number of fields, a ``Reject`` for any other.

    Call after ``read_header``. With ``start`` (a checkpoint), continue after the row that ended there."""
    if start is not None:
        fh.seek(start.offset)
        counter.done = start.offset
        counter.line = start.line
    lines = _Lines(fh, counter)
    reader = csv.reader(lines, delimiter=table.delimiter, strict=False)
    width = table.width
    while True:
        lines.start_row()
        first = counter.line + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            yield Reject(first, f"malformed {table.kind}: {e}", lines.text())
            continue
        if lines.bad is not None:
            yield Reject(first, lines.bad, lines.text())
            continue
        if not fields or (len(fields) == 1 and not fields[0].strip()):
            continue  # blank line
        if len(fields) != width:
            text = lines.text()
            hint = ""
            if len(fields) < width and text.count('"') % 2:
                hint = " (an unbalanced quote?)"
            elif lines.raw and not lines.raw[-1].endswith("\n"):
                hint = " (truncated last line?)"
            yield Reject(first, f"expected {width} fields, found {len(fields)}{hint}", text)
            continue
        yield (first, fields)


def open_binary(path: Path) -> IO[bytes]:
    try:
        return open(path, "rb")
    except OSError as e:
        raise IngestError(f"{path}: cannot open: {e.strerror or e}", {"file": str(path)}) from None


class TabularSource(ResumableFileSource):
    """A reader of one delimited layout. Subclasses set ``name``, ``description``, ``columns`` (what they
    read), ``required`` and implement ``prepare`` (check the header, return what ``row`` needs) and ``row``
    (one row -> a record; may raise ``InvalidInput`` or pydantic's ``ValidationError``, which become rejects)."""

    name: str = ""
    description: str = ""
    columns: tuple[str, ...] = ()
    required: tuple[str, ...] = ()

    def records(
        self, path: Path, counter: ByteCounter | None = None, *, start: Position | None = None
    ) -> Iterator[Record]:
        path = check_file(path)
        counter = counter if counter is not None else ByteCounter()
        with open_binary(path) as fh:
            table = read_header(fh, path, counter, required=self.required, expected=self.expected())
            state = self.prepare(table)
            for r in rows(fh, table, counter, start=start):
                if isinstance(r, Reject):
                    yield r
                    continue
                line, fields = r
                try:
                    yield self.row(fields, line, state)
                except (InvalidInput, ValidationError) as e:
                    yield Reject(line, short_error(e), _row_text(fields, table.delimiter))

    def expected(self) -> str:
        return f"the columns {', '.join(self.columns)}"

    def prepare(self, table: Table) -> Any:
        return table

    def row(self, fields: list[str], line: int, state: Any) -> Record:
        raise NotImplementedError


def _row_text(fields: list[str], delimiter: str) -> str:
    return delimiter.join(fields)


def short_error(e: Exception) -> str:
    """One line for a rejects file: what was wrong with the row."""
    if isinstance(e, ValidationError):
        return "invalid row: " + "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'value'}: {err['msg']}" for err in e.errors()
        )
    return getattr(e, "message", None) or str(e)


def cell(fields: list[str], index: dict[str, int], column: str) -> str:
    """The trimmed value of ``column`` in this row, '' when the file has no such column."""
    i = index.get(column)
    return fields[i].strip() if i is not None else ""
