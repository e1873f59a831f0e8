"""Generic JSONL statements: one JSON object per line.

Keys (anything else is rejected with the unknown keys named):

- every kind: ``text`` (required), ``id``, ``kind`` (norm, rule_of_thumb, value, right, duty; default norm),
  ``setting``, ``behavior``, ``situation``, ``country``, ``source`` (default: the file's stem), ``licence``,
  ``agreement`` (0..1), ``review_state`` (default trusted);
- norm: ``label`` (required; expected/okay/unexpected, NormBank's normal/taboo too), ``frame`` (a NormBank
  constraint string, or a list of strings and/or ``{"subject", "attribute", "relation", "value"}`` objects),
  ``split``;
- rule_of_thumb: ``label``, ``action``, ``moral_foundations`` (list), ``judgments`` (object);
- value/right/duty: ``valence`` (supports/opposes/either), ``explanation``.

Ids: an ``id`` gives ``statement_id(<kind prefix>, <source>, <id>)`` (an id already in normgraph's form, as in
an export, is kept); without one the id is a hash of the normalised content. Blank lines are skipped.

Resumable: an interrupted ingest seeks to its last checkpoint (byte offset and line) and goes on, with the
same line numbers in provenance and rejects.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import orjson
from normgraph.errors import InvalidInput
from normgraph.models import AnyStatement, Kind
from pydantic import ValidationError

from ingest.canonical import make_norm, make_statement
from ingest.checkpoint import Position
from ingest.jsonlines import json_lines, line_text
from ingest.pipeline import ByteCounter, Record, ResumableFileSource, check_file
from ingest.rejects import Reject

COMMON_KEYS = (
    "text", "id", "kind", "setting", "behavior", "situation", "country", "source", "licence", "agreement",
    "review_state",
)
KIND_KEYS: dict[Kind, tuple[str, ...]] = {
    Kind.norm: ("label", "frame", "split"),
    Kind.rule_of_thumb: ("label", "action", "moral_foundations", "judgments"),
    Kind.value: ("valence", "explanation"),
    Kind.right: ("valence", "explanation"),
    Kind.duty: ("valence", "explanation"),
}
ALL_KEYS = tuple(dict.fromkeys([*COMMON_KEYS, *(k for keys in KIND_KEYS.values() for k in keys)]))
_STRING_KEYS = ("text", "kind", "setting", "behavior", "situation", "country", "source", "licence", "label",
                "split", "action", "valence", "explanation", "review_state")


class JsonlNorms(ResumableFileSource):
    name = "jsonl"
    description = "JSON Lines of norms, rules of thumb, values, rights and duties (one object per line; `text` required, `label` for norms)"
    columns = ALL_KEYS

    def records(
        self, path: Path, counter: ByteCounter | None = None, *, start: Position | None = None
    ) -> Iterator[Record]:
        """``(line, statement)`` or a ``Reject`` per non-blank line; with ``start`` (a checkpoint), the lines
        after it."""
        path = check_file(path)
        counter = counter if counter is not None else ByteCounter()
        for item in json_lines(path, counter, start):
            yield item if isinstance(item, Reject) else _record(item[1], item[0], path.stem, path.name)


def _record(raw: bytes, line: int, default_source: str, source_file: str) -> Record:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return Reject(
            line, f"line is not valid UTF-8: byte 0x{raw[e.start]:02x} at column {e.start + 1}", line_text(raw)
        )
    try:
        obj = orjson.loads(text)
    except orjson.JSONDecodeError as e:
        return Reject(line, f"not JSON: {e}", line_text(raw))
    if not isinstance(obj, dict):
        return Reject(line, f"expected a JSON object, found {_json_type(obj)}", line_text(raw))
    try:
        return (line, build(obj, line, default_source, source_file))
    except InvalidInput as e:
        return Reject(line, e.message, line_text(raw))
    except ValidationError as e:
        return Reject(line, _validation_message(e), line_text(raw))


def build(obj: dict[str, Any], line: int, default_source: str, source_file: str | None = None) -> AnyStatement:
    """One JSONL object -> a statement, through the canonical constructors. Raises ``InvalidInput``."""
    unknown = [k for k in obj if k not in ALL_KEYS]
    if unknown:
        raise InvalidInput(
            f"unknown key(s) {', '.join(repr(k) for k in unknown)} (known: {', '.join(ALL_KEYS)})",
            {"unknown": unknown},
        )
    for k in _STRING_KEYS:
        if k in obj and obj[k] is not None and not isinstance(obj[k], str):
            raise InvalidInput(f"{k!r} must be a string, not {_json_type(obj[k])}", {k: obj[k]})
    kind_word = obj.get("kind") or "norm"
    try:
        kind = Kind(kind_word.strip().lower())
    except ValueError:
        raise InvalidInput(
            f"unknown kind {kind_word!r}: use one of {', '.join(k.value for k in Kind)}", {"kind": kind_word}
        ) from None
    allowed = set(COMMON_KEYS) | set(KIND_KEYS[kind])
    misplaced = [k for k in obj if k not in allowed]
    if misplaced:
        raise InvalidInput(
            f"key(s) {', '.join(repr(k) for k in misplaced)} do not apply to kind {kind.value}",
            {"keys": misplaced, "kind": kind.value},
        )
    text = obj.get("text")
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("missing 'text' (every statement needs its sentence)", {})
    raw_id = obj.get("id")
    if raw_id is not None and (isinstance(raw_id, bool) or not isinstance(raw_id, (str, int))):
        raise InvalidInput(f"'id' must be a string or an integer, not {_json_type(raw_id)}", {"id": raw_id})
    source = (obj.get("source") or default_source).strip() or default_source
    agreement = obj.get("agreement")
    if agreement is not None and (isinstance(agreement, bool) or not isinstance(agreement, (int, float))):
        raise InvalidInput(f"'agreement' must be a number from 0 to 1, not {_json_type(agreement)}", {})
    common: dict[str, Any] = dict(
        source=source,
        source_row=line,
        source_file=source_file,
        text=text.strip(),
        setting=obj.get("setting"),
        behavior=obj.get("behavior"),
        situation=obj.get("situation"),
        country=obj.get("country"),
        licence=obj.get("licence"),
        agreement=agreement,
        id=None if raw_id is None else str(raw_id),
    )
    if obj.get("review_state") is not None:
        common["review_state"] = obj["review_state"]
    if kind is Kind.norm:
        if obj.get("label") is None:
            raise InvalidInput("missing 'label' (a norm is expected, okay or unexpected)", {})
        frame = obj.get("frame")
        if frame is not None and not isinstance(frame, (str, list)):
            raise InvalidInput(f"'frame' must be a constraint string or a list, not {_json_type(frame)}", {})
        return make_norm(**common, constraints=frame, label=obj["label"], split=obj.get("split"))
    extra: dict[str, Any] = {}
    if kind is Kind.rule_of_thumb:
        mf = obj.get("moral_foundations") or []
        if not isinstance(mf, list) or not all(isinstance(m, str) for m in mf):
            raise InvalidInput("'moral_foundations' must be a list of strings", {})
        judgments = obj.get("judgments") or {}
        if not isinstance(judgments, dict):
            raise InvalidInput("'judgments' must be an object (dimension -> judgment)", {})
        extra = dict(label=obj.get("label"), action=obj.get("action"), moral_foundations=mf, judgments=judgments)
    else:
        extra = dict(valence=obj.get("valence"), explanation=obj.get("explanation"))
    return make_statement(kind=kind, **common, **extra)


def _json_type(v: object) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null",
            int: "a number", float: "a number"}.get(type(v), type(v).__name__)


def _validation_message(e: ValidationError) -> str:
    parts = []
    for err in e.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "value"
        parts.append(f"{loc}: {err['msg']}")
    return "invalid value: " + "; ".join(parts)
