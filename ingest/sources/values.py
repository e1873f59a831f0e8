"""Schwartz's basic values as the Touché23-ValueEval taxonomy publishes them (``schwartz_values_touche23.json``:
``{"values": [{"id", "name", "alternativeName", "level2", "level3", "level4a", "level4b", "descriptions",
"notToBeConfusedWith"}]}``) -> a SKOS concept scheme with its hierarchy:

    value ("Be creative")  ⊑  level 2 category ("Self-direction: thought")
                           ⊑  level 3 higher-order value ("Openness to change")
                           ⊑  level 4 dimensions ("Personal focus", "Growth, Anxiety-free")

``skos:broader`` may have several targets (Schwartz's circle overlaps: Hedonism belongs to Openness to change
and to Self-enhancement). A value's ``alternativeName`` is its alternative label and its descriptions (with the
Touché id) its definition.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator, TypedDict

from normgraph.errors import IngestError, InvalidInput
from normgraph.models import Concept, ConceptScheme
from normgraph.source_registry import licence_of
from pydantic import ValidationError

from ingest.canonical import make_concept
from ingest.pipeline import Record, WholeInputSource, check_file
from ingest.rejects import Reject
from ingest.tabular import short_error

SOURCE = "values"
LICENCE = licence_of(SOURCE)
KEYS = ("id", "name", "alternativeName", "level2", "level3", "level4a", "level4b", "descriptions",
        "notToBeConfusedWith")
LEVEL_NAMES = {2: "value category", 3: "higher-order value", 4: "dimension of the value circle"}


class _ConceptCommon(TypedDict):
    """The ``make_concept`` arguments all of the file's concepts share."""

    source: str
    source_file: str
    licence: str | None
    scheme: ConceptScheme


class SchwartzValues(WholeInputSource):
    name = SOURCE
    description = 'Schwartz values (Touché23-ValueEval JSON: {"values": [{"id", "name", "level2", "level3", "level4a", "level4b", …}]}) as a SKOS scheme with its hierarchy'
    columns = KEYS

    def records(self, path: Path) -> Iterator[Record]:
        path = check_file(path)
        try:
            doc = json.loads(path.read_bytes())
        except (ValueError, UnicodeDecodeError) as e:
            raise IngestError(f"{path}: not valid JSON: {e}", {"file": str(path)}) from None
        if isinstance(doc, dict):
            doc = doc.get("values")
        if not isinstance(doc, list):
            raise IngestError(f"{path}: expected {{\"values\": [ … ]}} (the Touché23 value taxonomy)",
                              {"file": str(path)})
        if not doc:
            raise IngestError(f"{path}: no values", {"file": str(path)})
        # level label -> (level, broader labels, first element index)
        levels: dict[str, tuple[int, dict[str, None], int]] = {}
        common = _ConceptCommon(
            source=SOURCE, source_file=path.name, licence=LICENCE, scheme=ConceptScheme.schwartz_value
        )
        for n, v in enumerate(doc, 1):
            try:
                concept, parents = _value(v, n, common)
            except (InvalidInput, ValidationError) as e:
                yield Reject(n, short_error(e), json.dumps(v, ensure_ascii=False)[:2000])
                continue
            for level, label, parent_broader in parents:
                entry = levels.setdefault(label, (level, {}, n))
                entry[1].update(dict.fromkeys(parent_broader))
            yield (n, concept)
        for label, (level, broader, n) in levels.items():
            yield (n, make_concept(label=label, broader=list(broader), source_row=n,
                                   definition=f"Schwartz {LEVEL_NAMES[level]} (Touché23-ValueEval level {level})",
                                   **common))


def _strings(v: dict[str, Any], key: str, required: bool = False) -> list[str]:
    value = v.get(key)
    if value is None:
        if required:
            raise InvalidInput(f"missing {key!r}")
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise InvalidInput(f"{key!r} must be a string or a list of strings")
    out = [" ".join(x.split()) for x in value if x.strip()]
    if required and not out:
        raise InvalidInput(f"empty {key!r}")
    return out


def _confusions(value: Any) -> list[str]:
    """``notToBeConfusedWith``: value ids with descriptions (``[{"id", "descriptions"}]``) or plain strings."""
    if value is None:
        return []
    if not isinstance(value, list):
        value = [value]
    out = []
    for x in value:
        if isinstance(x, str) and x.strip():
            out.append(" ".join(x.split()))
        elif isinstance(x, dict):
            ident = x.get("id") if isinstance(x.get("id"), str) else None
            descs = _strings(x, "descriptions")
            out.append(f"{ident} ({'; '.join(descs)})" if ident and descs else ident or "; ".join(descs))
        else:
            raise InvalidInput("'notToBeConfusedWith' must list value ids with descriptions, or strings")
    return [x for x in out if x]


def _value(v: Any, n: int, common: _ConceptCommon) -> tuple[Concept, list[tuple[int, str, list[str]]]]:
    """The concept of one element of ``values`` and its parents: (level, parent label, the parent's broader
    labels)."""
    if not isinstance(v, dict):
        raise InvalidInput("expected a value object")
    [name] = _strings(v, "name", required=True)[:1]
    level2 = _strings(v, "level2", required=True)
    level3 = _strings(v, "level3")
    level4 = _strings(v, "level4a") + _strings(v, "level4b")
    descriptions = _strings(v, "descriptions")
    confused = _confusions(v.get("notToBeConfusedWith"))
    parts = []
    if descriptions:
        parts.append("; ".join(descriptions))
    if confused:
        parts.append("not to be confused with " + ", ".join(confused))
    ident = v.get("id")
    if isinstance(ident, str) and ident.strip():
        parts.append(f"Touché23-ValueEval id {ident.strip()}")
    concept = make_concept(
        label=name,
        alt_labels=_strings(v, "alternativeName"),
        broader=level2,
        definition=". ".join(parts) or None,
        source_row=ident if isinstance(ident, str) else n,
        **common,
    )
    parents = [(2, label, level3) for label in level2] + [(3, label, level4) for label in level3]
    parents += [(4, label, []) for label in level4]
    return concept, parents
