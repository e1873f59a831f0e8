"""ETHICS (Hendrycks et al. 2021) CSV files as published; the subset is told apart by its columns:

- **commonsense** ``label, input, is_short, edited`` (label 1 = the narrator's act is clearly wrong): a norm
  judging the scenario — ``unexpected`` when wrong, else ``okay``;
- **deontology** ``label, scenario, excuse`` (label 1 = the excuse is reasonable): a **duty** — the request or
  role in ``scenario`` — with the excuse as its explanation. ``valence`` says whether the duty still stands:
  ``supports`` when the excuse is not reasonable, ``opposes`` when it is (the excuse exempts);
- **justice** ``label, scenario`` (label 1 = reasonable): a norm judging the claim — ``okay`` when reasonable,
  else ``unexpected``.

The scenario is the statement's situation (a situation node: all excuses offered for one request meet there).
Commonsense ``is_short`` and ``edited`` have no field in the schema and are kept verbatim in
``provenance.source_fields`` (``True``/``False`` as booleans, whole numbers as ints, any other value as written).
Norms carry the split named by the file (``cm_test_hard.csv`` -> ``test_hard``, ``justice_train.csv`` ->
``train``). Ids are derived from the content, so an exact duplicate row is counted as a duplicate, and two rows
with the same text but different labels are both kept (as different statements).
The virtue (``scenario`` with ``[SEP]``) and utilitarianism (no header) subsets are not read.
"""

from __future__ import annotations

import re
from typing import Any

from normgraph.errors import IngestError, InvalidInput
from normgraph.models import Kind, Label
from normgraph.source_registry import licence_of

from ingest.canonical import linked_concepts, make_norm, make_statement
from ingest.pipeline import Record
from ingest.tabular import TabularSource, Table

SOURCE = "ethics"
LICENCE = licence_of(SOURCE)
SUBSETS: dict[str, tuple[str, ...]] = {
    "commonsense": ("label", "input", "is_short", "edited"),
    "deontology": ("label", "scenario", "excuse"),
    "justice": ("label", "scenario"),
}
COLUMNS = ("label", "input", "scenario", "excuse", "is_short", "edited")
# Columns a subset has that the schema has no field for: kept in provenance.source_fields.
_KEPT: dict[str, tuple[str, ...]] = {"commonsense": ("is_short", "edited")}
_FLAGS = {"true": True, "false": False}
_INT = re.compile(r"-?[0-9]{1,18}")
_SPLIT = re.compile(r"(?:^|_)(train|dev|val|test(?:_hard)?)$")


def subset_of(table: Table) -> str:
    if table.has("input"):
        return "commonsense"
    if table.has("scenario", "excuse"):
        return "deontology"
    if table.has("scenario"):
        return "justice"
    layouts = "; ".join(f"{name}: {', '.join(cols)}" for name, cols in SUBSETS.items())
    raise IngestError(
        f"{table.path}: not an ETHICS commonsense, deontology or justice file (found columns "
        f"{', '.join(table.names)}; expected {layouts})",
        {"file": str(table.path), "found": list(table.names)},
    )


def split_of(file_name: str) -> str | None:
    stem = file_name.rsplit(".", 1)[0].lower()
    m = _SPLIT.search(stem)
    return m.group(1) if m else None


class Ethics(TabularSource):
    name = SOURCE
    description = ("ETHICS commonsense (label,input,is_short,edited), deontology (label,scenario,excuse) or justice "
                   "(label,scenario) CSV; the subset is recognised by its columns")
    columns = COLUMNS
    required = ("label",)

    def expected(self) -> str:
        return "; ".join(f"{name}: {', '.join(cols)}" for name, cols in SUBSETS.items())

    def prepare(self, table: Table) -> tuple[str, dict[str, int], str, str | None, tuple[tuple[str, int], ...]]:
        subset = subset_of(table)
        kept = tuple((c, table.index[c]) for c in _KEPT.get(subset, ()) if c in table.index)
        return subset, table.index, table.path.name, split_of(table.path.name), kept

    def row(self, fields: list[str], line: int, state: Any) -> Record:
        subset, index, file_name, split, kept = state
        raw_label = fields[index["label"]].strip()
        if raw_label not in ("0", "1"):
            raise InvalidInput(f"label {raw_label!r}: expected 0 or 1")
        flag = raw_label == "1"
        common = dict(source=SOURCE, source_row=line, source_file=file_name, licence=LICENCE)
        if subset == "deontology":
            scenario = fields[index["scenario"]].strip()
            excuse = fields[index["excuse"]].strip()
            if not scenario or not excuse:
                raise InvalidInput("empty " + " and ".join(n for n, v in (("scenario", scenario), ("excuse", excuse)) if not v))
            st = make_statement(
                kind=Kind.duty,
                text=f"{scenario} {excuse}",
                situation=scenario,
                explanation=excuse,
                valence="opposes" if flag else "supports",
                **common,
            )
        else:
            column = "input" if subset == "commonsense" else "scenario"
            scenario = fields[index[column]].strip()
            if not scenario:
                raise InvalidInput(f"empty {column}")
            if subset == "justice" and " [SEP] " in scenario:
                raise InvalidInput("'scenario [SEP] trait' is the ETHICS virtue subset, which is not read")
            if subset == "commonsense":
                label = Label.unexpected if flag else Label.okay
            else:
                label = Label.okay if flag else Label.unexpected
            st = make_norm(
                text=scenario,
                situation=scenario,
                setting=None,
                behavior=None,
                constraints=(),
                label=label,
                split=split,
                source_fields={c: _verbatim(fields[i]) for c, i in kept if fields[i].strip()},
                **common,
            )
        return (line, [st, *linked_concepts(st)])


def _verbatim(value: str) -> str | int | bool:
    """A flag column as the boolean it spells (the published files write True/False), a whole number as an int
    (some copies write 0/1), else the text as written."""
    v = value.strip()
    flag = _FLAGS.get(v.lower())
    if flag is not None:
        return flag
    return int(v) if _INT.fullmatch(v) else v
