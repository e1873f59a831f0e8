"""Concepts for taxonomy edits (settings hierarchy, behaviour aliases …) from JSON or JSONL.

    {"concepts": [{"scheme": "setting", "label": "diner", "broader": ["restaurant"],
                   "alt_labels": ["greasy spoon"], "related_settings": ["restaurant"]}]}

The file is a JSON object with a ``concepts`` array (optionally ``source`` and ``licence`` for all of them),
a JSON array of concept objects, or JSON Lines with one concept object per line.

Concept keys: ``scheme`` and ``label`` (required), ``alt_labels``, ``broader`` (labels of concepts in the
same scheme), ``related_settings`` (setting labels), ``attribute`` (required for attribute values),
``subject`` (for attributes), ``definition``. Anything else is rejected.

A ``broader`` or ``related_settings`` label must name a concept defined in the same file or already in the
store (by preferred or alternative label); otherwise the concept is rejected — a typo in a hierarchy would
otherwise create a dangling link that no query could follow.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from normgraph.errors import IngestError, InvalidInput
from normgraph.ids import concept_id, normalise_text
from normgraph.models import Concept, ConceptScheme
from normgraph.store.base import GraphStore
from pydantic import ValidationError

from ingest.canonical import make_concept
from ingest.pipeline import Record, WholeInputSource, check_file
from ingest.rejects import Reject

CONCEPT_KEYS = ("scheme", "label", "alt_labels", "broader", "related_settings", "attribute", "subject", "definition")
FILE_KEYS = ("concepts", "source", "licence", "description")
_decoder = json.JSONDecoder()
_WS = " \t\r\n"


class ConceptsJson(WholeInputSource):
    name = "concepts"
    description = 'Taxonomy concepts as JSON ({"concepts": [{"scheme", "label", "broader", "alt_labels", "related_settings", …}]}) or JSON Lines'
    columns = CONCEPT_KEYS

    def records_for(self, path: Path, store: GraphStore) -> Iterator[Record]:
        return self.records(path, store)

    def records(self, path: Path, store: GraphStore | None = None) -> Iterator[Record]:
        """Concepts with their references resolved (against the file, then ``store`` if given)."""
        path = check_file(path)
        items, meta = _read(path)
        source = meta.get("source") or path.stem
        licence = meta.get("licence")
        built: list[tuple[int, dict[str, Any], Concept]] = []
        for line, obj in items:
            if isinstance(obj, Reject):
                yield obj
                continue
            try:
                concept = _concept(obj, line, source, licence, path.name)
            except InvalidInput as e:
                yield Reject(line, e.message, _dump(obj))
                continue
            except ValidationError as e:
                yield Reject(line, _validation_message(e), _dump(obj))
                continue
            built.append((line, obj, concept))
        resolver = _Resolver([c for _, _, c in built], store)
        for line, obj, concept in built:
            try:
                broader = tuple(
                    resolver.resolve(concept.scheme, b, "broader", concept.attribute) for b in _labels(obj, "broader")
                )
                related = tuple(
                    resolver.resolve(ConceptScheme.setting, s, "related_settings")
                    for s in _labels(obj, "related_settings")
                )
            except InvalidInput as e:
                yield Reject(line, e.message, _dump(obj))
                continue
            if concept.id in broader:
                yield Reject(line, f"concept {concept.label!r} cannot be broader than itself", _dump(obj))
                continue
            yield (line, concept.model_copy(update={"broader": broader, "related_settings": related}))


def _labels(obj: dict[str, Any], key: str) -> list[str]:
    return list(obj.get(key) or [])


class _Resolver:
    """Label -> concept id within a scheme: this file first, then the store."""

    def __init__(self, concepts: list[Concept], store: GraphStore | None) -> None:
        self.store = store
        self.by_label: dict[tuple[ConceptScheme, str | None, str], str] = {}
        for c in concepts:
            for label in (c.label, *c.alt_labels):
                self.by_label.setdefault((c.scheme, c.attribute, normalise_text(label)), c.id)

    def resolve(self, scheme: ConceptScheme, label: str, key: str, attribute: str | None = None) -> str:
        found = self.by_label.get((scheme, attribute, normalise_text(label)))
        if found is not None:
            return found
        if self.store is not None:
            cid = concept_id(scheme.value, label, attribute)
            if self.store.get_concept(cid) is not None:
                return cid
            concept = self.store.find_concept(scheme, label)
            if concept is not None and concept.attribute == attribute:
                return concept.id
        raise InvalidInput(
            f"{key}: no {scheme.value} {label!r} in this file or the store", {"key": key, "label": label}
        )


def _concept(obj: dict[str, Any], line: int, source: str, licence: str | None, source_file: str) -> Concept:
    unknown = [k for k in obj if k not in CONCEPT_KEYS]
    if unknown:
        raise InvalidInput(
            f"unknown key(s) {', '.join(repr(k) for k in unknown)} (known: {', '.join(CONCEPT_KEYS)})",
            {"unknown": unknown},
        )
    for key in ("scheme", "label"):
        if not isinstance(obj.get(key), str) or not obj[key].strip():
            raise InvalidInput(f"missing {key!r}", {})
    for key in ("alt_labels", "broader", "related_settings"):
        value = obj.get(key)
        if value is not None and (not isinstance(value, list) or not all(isinstance(v, str) for v in value)):
            raise InvalidInput(f"{key!r} must be a list of labels", {key: value})
    for key in ("attribute", "subject", "definition"):
        if obj.get(key) is not None and not isinstance(obj[key], str):
            raise InvalidInput(f"{key!r} must be a string", {key: obj[key]})
    try:
        scheme = ConceptScheme(obj["scheme"].strip().lower())
    except ValueError:
        raise InvalidInput(
            f"unknown scheme {obj['scheme']!r}: use one of {', '.join(s.value for s in ConceptScheme)}", {}
        ) from None
    return make_concept(
        scheme=scheme,
        label=obj["label"],
        alt_labels=obj.get("alt_labels") or (),
        attribute=obj.get("attribute"),
        subject=obj.get("subject"),
        definition=obj.get("definition"),
        source=source,
        source_row=line,
        source_file=source_file,
        licence=licence,
    )


def _read(path: Path) -> tuple[list[tuple[int, dict[str, Any] | Reject]], dict[str, Any]]:
    """The concept objects with their line numbers, and the file-level keys."""
    data = path.read_bytes()
    if not data.strip():
        raise IngestError(f"{path}: empty file", {"file": str(path)})
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        if data.lstrip()[:1] in (b"{", b"[") and _looks_like_one_document(data):
            line = data.count(b"\n", 0, e.start) + 1
            raise IngestError(f"{path}: line {line}: not valid UTF-8", {"file": str(path), "line": line}) from None
        return _read_lines(path, data), {}
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        if _first_line_is_object(text):
            return _read_lines(path, data), {}
        raise IngestError(
            f"{path}: line {e.lineno} column {e.colno}: not valid JSON ({e.msg})",
            {"file": str(path), "line": e.lineno},
        ) from None
    if isinstance(doc, list):
        return _array_items(path, text, text.index("[")), {}
    if isinstance(doc, dict) and "concepts" in doc:
        extra = [k for k in doc if k not in FILE_KEYS]
        if extra:
            raise IngestError(
                f"{path}: unknown top-level key(s) {', '.join(map(repr, extra))} (known: {', '.join(FILE_KEYS)})",
                {"file": str(path)},
            )
        if not isinstance(doc["concepts"], list):
            raise IngestError(f"{path}: 'concepts' must be an array", {"file": str(path)})
        for key in ("source", "licence"):
            if doc.get(key) is not None and not isinstance(doc[key], str):
                raise IngestError(f"{path}: {key!r} must be a string", {"file": str(path)})
        return _array_items(path, text, _concepts_array_start(text)), doc
    if isinstance(doc, dict):
        return [(1, doc)], {}  # JSON Lines with one line
    raise IngestError(f"{path}: expected a JSON object with 'concepts', an array or JSON Lines", {"file": str(path)})


def _first_line_is_object(text: str) -> bool:
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    try:
        return isinstance(json.loads(first), dict)
    except ValueError:
        return False


def _looks_like_one_document(data: bytes) -> bool:
    lines = [ln for ln in data.splitlines() if ln.strip()]
    return not all(ln.strip().startswith(b"{") and ln.strip().endswith(b"}") for ln in lines)


def _read_lines(path: Path, data: bytes) -> list[tuple[int, dict[str, Any] | Reject]]:
    out: list[tuple[int, dict[str, Any] | Reject]] = []
    for n, raw in enumerate(data.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw.decode("utf-8-sig" if n == 1 else "utf-8"))
        except UnicodeDecodeError as e:
            out.append((n, Reject(n, f"line is not valid UTF-8: byte 0x{raw[e.start]:02x} at column {e.start + 1}",
                                  raw.decode("utf-8", "replace"))))
            continue
        except ValueError as e:
            out.append((n, Reject(n, f"not JSON: {e}", raw.decode("utf-8", "replace"))))
            continue
        if not isinstance(obj, dict):
            out.append((n, Reject(n, "expected a JSON object (one concept per line)", raw.decode("utf-8", "replace"))))
            continue
        out.append((n, obj))
    return out


def _skip_ws(text: str, i: int) -> int:
    while i < len(text) and text[i] in _WS:
        i += 1
    return i


def _concepts_array_start(text: str) -> int:
    """Index of the '[' of the top-level "concepts" value (the document is known to be valid JSON)."""
    i = _skip_ws(text, text.index("{") + 1)
    while i < len(text) and text[i] != "}":
        key, i = _decoder.raw_decode(text, i)
        i = _skip_ws(text, i) + 1  # past ':'
        i = _skip_ws(text, i)
        if key == "concepts":
            return i
        _, i = _decoder.raw_decode(text, i)
        i = _skip_ws(text, i)
        if text[i] == ",":
            i = _skip_ws(text, i + 1)
    raise IngestError("no 'concepts' array")


def _array_items(path: Path, text: str, start: int) -> list[tuple[int, dict[str, Any] | Reject]]:
    """The elements of the array at ``start`` with the line each begins on."""
    out: list[tuple[int, dict[str, Any] | Reject]] = []
    i = _skip_ws(text, start + 1)
    line, counted_to = 1, 0
    while i < len(text) and text[i] != "]":
        line += text.count("\n", counted_to, i)
        counted_to = i
        value, i = _decoder.raw_decode(text, i)
        if isinstance(value, dict):
            out.append((line, value))
        else:
            out.append((line, Reject(line, "expected a concept object", json.dumps(value)[:200])))
        i = _skip_ws(text, i)
        if i < len(text) and text[i] == ",":
            i = _skip_ws(text, i + 1)
    return out


def _dump(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False)


def _validation_message(e: ValidationError) -> str:
    return "invalid value: " + "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'value'}: {err['msg']}" for err in e.errors()
    )
