"""NormBank.csv as its authors publish it (DESIGN §2), one norm per data row.

Columns: ``setting, behavior, setting-behavior, constraints, constraints_given, constraint_predict, norm,
label, split``. ``norm`` expected/normal/taboo becomes the label expected/okay/unexpected; ``label`` 2/1/0
must agree with it. ``constraints`` is the whole frame (the other two constraint columns split it into
given/predicted parts and are not needed). Extra columns (e.g. a pandas index) are ignored.

The file is read in binary and decoded line by line, so one line with bytes that are not UTF-8 is rejected
on its own and the rest loads. NormBank rows never span lines; a line that ends inside a quoted field is
joined with the next line(s) only if that yields a complete row, otherwise it is rejected as truncated.
Line numbers are physical lines (the header is line 1); a row's id is derived from (``normbank``, line number),
so re-ingesting the same file is a no-op.

Resumable: the reader keeps the byte offset and line just after each row it hands over, so an interrupted
ingest reads the header again, seeks to its last checkpoint and goes on with the same line numbers (and ids).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import BinaryIO, Callable, Iterator, NamedTuple

from normgraph.errors import ConstraintSyntaxError, IngestError, InvalidInput
from normgraph.frames.grammar import parse_frame
from normgraph.models import Constraint, Label
from normgraph.source_registry import licence_of
from pydantic import ValidationError

from ingest.canonical import make_norm
from ingest.checkpoint import Position
from ingest.pipeline import ByteCounter, Record, ResumableFileSource, check_file
from ingest.limits import TooLong, oversized, read_raw, size_of
from ingest.rejects import Reject

SOURCE = "normbank"
LICENCE = licence_of(SOURCE)
COLUMNS = (
    "setting",
    "behavior",
    "setting-behavior",
    "constraints",
    "constraints_given",
    "constraint_predict",
    "norm",
    "label",
    "split",
)
REQUIRED = ("setting", "behavior", "constraints", "norm")
NORM_WORDS = {"expected": Label.expected, "normal": Label.okay, "taboo": Label.unexpected}
LABEL_OF_NORM = {"expected": "2", "normal": "1", "taboo": "0"}
_LABEL_NUMBERS = {"2": "2", "1": "1", "0": "0", "2.0": "2", "1.0": "1", "0.0": "0"}
_AND_SPLIT = re.compile(r"\s*\[AND\]\s*")  # as in normgraph.frames.grammar
_MAX_JOINED_LINES = 4  # how far a line ending inside quotes may continue before it counts as truncated


def _parse_line(text: str) -> list[str]:
    return next(csv.reader((text,), strict=True))


def _decode(raw: bytes, line: int) -> str | Reject:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return Reject(
            line,
            f"line is not valid UTF-8: byte 0x{raw[e.start]:02x} at column {e.start + 1}",
            raw.decode("utf-8", "replace").rstrip("\r\n"),
        )


class NormBankCsv(ResumableFileSource):
    name = SOURCE
    description = "NormBank.csv in its published layout (setting, behavior, constraints, norm expected/normal/taboo, label 2/1/0, split)"
    columns = COLUMNS

    def records(
        self, path: Path, counter: ByteCounter | None = None, *, start: Position | None = None
    ) -> Iterator[Record]:
        """``(line, Norm)`` for each good row and a ``Reject`` for each bad one; with ``start`` (a checkpoint),
        the rows after it."""
        path = check_file(path)
        counter = counter if counter is not None else ByteCounter()
        with open(path, "rb") as fh:
            yield from _rows(fh, path, counter, start)


def _header(fh: BinaryIO, path: Path, counter: ByteCounter) -> dict[str, int]:
    raw = fh.readline()
    counter.done += len(raw)
    counter.line += 1
    if raw and not raw.strip():
        raise IngestError(f"{path}: line 1: empty header line (expected the columns {', '.join(COLUMNS)})",
                          {"file": str(path), "line": 1})
    if not raw:
        raise IngestError(f"{path}: empty file", {"file": str(path)})
    try:
        text = raw.decode("utf-8-sig")
        names = [n.strip().lower() for n in _parse_line(text)]
    except (UnicodeDecodeError, csv.Error) as e:
        raise IngestError(f"{path}: line 1: unreadable header: {e}", {"file": str(path), "line": 1}) from None
    index: dict[str, int] = {}
    for i, n in enumerate(names):
        if n in index and n in COLUMNS:
            raise IngestError(f"{path}: line 1: column {n!r} appears twice", {"file": str(path), "line": 1})
        index.setdefault(n, i)
    missing = [c for c in REQUIRED if c not in index]
    if missing:
        raise IngestError(
            f"{path}: missing required column(s) {', '.join(missing)} "
            f"(NormBank.csv has {', '.join(COLUMNS)}; found {', '.join(names) or 'none'})",
            {"file": str(path), "missing": missing, "found": names},
        )
    index["__width__"] = len(names)
    return index


# A parsed frame, or the message of the error that made it unparsable.
_Frame = tuple[Constraint, ...] | str


class _Layout(NamedTuple):
    """Where each column is in this file's rows."""

    width: int
    setting: int
    behavior: int
    constraints: int
    norm: int
    label: int | None
    split: int | None
    source_file: str


def _rows(fh: BinaryIO, path: Path, counter: ByteCounter, start: Position | None = None) -> Iterator[Record]:
    col = _header(fh, path, counter)
    width = col.pop("__width__")
    layout = _Layout(
        width, col["setting"], col["behavior"], col["constraints"], col["norm"],  # REQUIRED, in order
        col.get("label"), col.get("split"), path.name,
    )
    frames: dict[str, _Frame] = {}  # constraint string -> parsed frame, or the error message
    if start is not None:
        fh.seek(start.offset)
        counter.done, counter.line = start.offset, start.line
    # Lines read ahead while trying to join a row and then given back; the counter counts only lines taken, so
    # when a row is handed over it stands just after that row (a checkpoint never skips a given-back line).
    pending: list[bytes] = []

    def next_raw() -> bytes:
        raw = pending.pop() if pending else read_raw(fh)
        if raw:
            counter.done += size_of(raw)
            counter.line += 1
        return raw

    def give_back(lines: list[bytes]) -> None:
        for raw in reversed(lines):
            pending.append(raw)
            counter.done -= size_of(raw)
            counter.line -= 1

    while True:
        raw = next_raw()
        if not raw:
            break
        first = counter.line
        if isinstance(raw, TooLong):
            yield Reject(first, oversized(raw.size), raw.decode("utf-8", "replace") + "…")
            continue
        decoded = _decode(raw, first)
        if isinstance(decoded, Reject):
            yield decoded
            continue
        text = decoded
        if not text.strip():
            continue
        try:
            fields = _parse_line(text)
        except csv.Error as e:
            joined, used = _try_join(text, next_raw, width, first)
            if joined is not None:
                fields = joined
            else:
                give_back(used)
                yield Reject(first, _csv_problem(e, raw), text.rstrip("\r\n"))
                continue
        if len(fields) != width:
            truncated = " (truncated last line?)" if not raw.endswith(b"\n") else ""
            yield Reject(first, f"expected {width} fields, found {len(fields)}{truncated}", text.rstrip("\r\n"))
            continue
        yield _row(fields, first, text, layout, frames)


def _try_join(text: str, next_raw: Callable[[], bytes], width: int, start: int) -> tuple[list[str] | None, list[bytes]]:
    """A row whose quoted field continues on the next physical line(s): parse the joined lines if they make
    exactly one complete row, else give the lines back."""
    used: list[bytes] = []
    buf = text
    for _ in range(_MAX_JOINED_LINES):
        raw = next_raw()
        if not raw:
            break
        used.append(raw)
        if isinstance(raw, TooLong):  # no row continues into a line too long to be one
            break
        try:
            part = raw.decode("utf-8")
        except UnicodeDecodeError:
            break
        buf += part
        try:
            fields = _parse_line(buf)
        except csv.Error as e:
            if "unexpected end of data" in str(e):
                continue
            break
        if len(fields) == width:
            return fields, used
        break
    return None, used


def _csv_problem(e: csv.Error, raw: bytes) -> str:
    msg = str(e)
    if "unexpected end of data" in msg:
        where = "last line" if not raw.endswith(b"\n") else "line"
        return f"unterminated quoted field: the {where} ends inside quotes (truncated?)"
    return f"malformed CSV: {msg}"


def _row(fields: list[str], line: int, text: str, layout: _Layout, frames: dict[str, _Frame]) -> Record:
    setting = fields[layout.setting].strip()
    behavior = fields[layout.behavior].strip()
    if not setting or not behavior:
        empty = " and ".join(n for n, v in (("setting", setting), ("behavior", behavior)) if not v)
        return Reject(line, f"empty {empty}", text.rstrip("\r\n"))
    norm_word = fields[layout.norm].strip().lower()
    label = NORM_WORDS.get(norm_word)
    if label is None:
        return Reject(
            line, f"unknown norm {fields[layout.norm]!r}: expected one of expected, normal, taboo", text.rstrip("\r\n")
        )
    if layout.label is not None:
        given = fields[layout.label].strip()
        if given:
            number = _LABEL_NUMBERS.get(given)
            if number is None:
                return Reject(line, f"unknown label {given!r}: expected 2, 1 or 0", text.rstrip("\r\n"))
            if number != LABEL_OF_NORM[norm_word]:
                return Reject(
                    line,
                    f"label {given} disagrees with norm {norm_word!r} (which is label {LABEL_OF_NORM[norm_word]})",
                    text.rstrip("\r\n"),
                )
    cstring = fields[layout.constraints]
    frame = frames.get(cstring)
    if frame is None:
        frame = frames[cstring] = _parse_frame_cached(cstring, frames)
    if isinstance(frame, str):
        return Reject(line, f"malformed constraints: {frame}", text.rstrip("\r\n"))
    split = (fields[layout.split].strip() or None) if layout.split is not None else None
    try:
        norm = make_norm(
            source=SOURCE,
            source_row=line,
            id=str(line),
            setting=setting,
            behavior=behavior,
            constraints=frame,
            label=label,
            licence=LICENCE,
            split=split,
            source_file=layout.source_file,
        )
    except (InvalidInput, ValidationError) as e:
        return Reject(line, f"invalid row: {_short(e)}", text.rstrip("\r\n"))
    return (line, norm)


def _parse_frame_cached(cstring: str, cache: dict[str, _Frame]) -> _Frame:
    """Parse a frame, reusing parsed single constraints (frames differ far more often than constraints).
    Splits exactly as ``parse_frame`` does, so each part parses to the same constraint. Returns the frame or
    the error message."""
    out: list[Constraint] = []
    for part in _AND_SPLIT.split(cstring.strip()):
        if not part.strip():
            continue
        key = "\x00" + part  # single constraints share the cache without clashing with whole frames
        parsed = cache.get(key)
        if parsed is None:
            try:
                parsed = parse_frame(part)
            except ConstraintSyntaxError as e:
                parsed = e.message
            cache[key] = parsed
        if isinstance(parsed, str):
            return parsed
        out.extend(parsed)
    return tuple(out)


def _short(e: Exception) -> str:
    if isinstance(e, ValidationError):
        return "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors())
    return getattr(e, "message", str(e))
