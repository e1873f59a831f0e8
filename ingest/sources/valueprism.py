"""ValuePrism as published (``full/*.csv``): ``situation, vrd, text, explanation, valence``.

One value, right or duty per row: ``vrd`` (Value / Right / Duty, any case) is the kind, ``text`` the value,
right or duty itself ("Autonomy", "Right to life"), ``valence`` (Supports / Opposes / Either) how it bears on
the situation, ``explanation`` why. The situation becomes a situation node, so the rules of thumb and norms
written for the same situation (or for the same behaviour, when the situation is an action) are reached from it.

ValuePrism rows have no id column: a row's id is derived from its content (situation, kind, text), so the same
row ingested twice is one statement, and a second row giving the same value for the same situation with a
different valence or explanation is rejected as a conflict, naming the line of the first. Extra columns
(a pandas index) are ignored.
"""

from __future__ import annotations

from typing import Any

from normgraph.errors import InvalidInput
from normgraph.models import Kind
from normgraph.source_registry import licence_of

from ingest.canonical import linked_concepts, make_statement
from ingest.pipeline import Record
from ingest.tabular import TabularSource, Table

SOURCE = "valueprism"
LICENCE = licence_of(SOURCE)
COLUMNS = ("situation", "vrd", "text", "explanation", "valence")
KINDS = {"value": Kind.value, "right": Kind.right, "duty": Kind.duty}


class ValuePrism(TabularSource):
    name = SOURCE
    description = "ValuePrism values, rights and duties per situation (CSV: situation, vrd, text, explanation, valence)"
    columns = COLUMNS
    required = ("situation", "vrd", "text", "valence")

    def prepare(self, table: Table) -> tuple[dict[str, int], str]:
        return table.index, table.path.name

    def row(self, fields: list[str], line: int, state: Any) -> Record:
        index, file_name = state
        situation = fields[index["situation"]].strip()
        text = fields[index["text"]].strip()
        vrd = fields[index["vrd"]].strip()
        if not situation:
            raise InvalidInput("empty situation")
        if not text:
            raise InvalidInput("empty text (the value, right or duty)")
        kind = KINDS.get(vrd.lower())
        if kind is None:
            raise InvalidInput(f"unknown vrd {vrd!r}: expected Value, Right or Duty")
        valence = fields[index["valence"]].strip().lower()
        if valence not in ("supports", "opposes", "either"):
            raise InvalidInput(f"unknown valence {fields[index['valence']].strip()!r}: expected Supports, Opposes or Either")
        exp_i = index.get("explanation")
        explanation = (fields[exp_i].strip() or None) if exp_i is not None else None
        st = make_statement(
            kind=kind,
            source=SOURCE,
            source_row=line,
            source_file=file_name,
            text=text,
            situation=situation,
            valence=valence,
            explanation=explanation,
            licence=LICENCE,
        )
        return (line, [st, *linked_concepts(st)])
