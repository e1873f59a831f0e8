"""Social-Chem-101 as published: ``social-chem-101.v1.0.tsv`` (25 tab-separated columns) or a CSV with the same
columns (the subsets in ``../shared/data/social-chem-101``); the delimiter is detected from the header.

One rule of thumb per row:

- ``text`` = ``rot``; ``situation`` = ``situation``; ``action`` = ``action`` as written and ``behavior`` = the
  action without its closing punctuation, normalised — so an action that another source writes as a behaviour
  (NormBank, Moral Stories) is the same behaviour node; the action's spelling is kept as an alias;
- ``label`` from ``action-moral-judgment`` (-2 … 2): positive -> expected, 0 -> okay, negative -> unexpected;
- ``moral_foundations`` = ``rot-moral-foundations`` split on ``|`` (``care-harm`` …);
- ``judgments`` = every other column present and non-empty, under its own name: numbers as numbers (``rot-agree``
  4, ``action-pressure`` -1 …), ``rot-categorization``, ``action-char-involved`` and ``characters`` as lists;
- provenance: the row id is ``rot-id`` plus ``breakdown-worker-id`` (a rule of thumb broken down by several
  workers appears once per worker), ``agreement`` = ``rot-agree`` / 4 (the share of people the annotators judged
  would agree, on the dataset's 0–4 scale); a rule flagged ``rot-bad`` = 1 is stored as ``rejected`` (kept, but
  never answers a query).

Required columns: ``rot``, ``rot-id``, ``situation``, ``action``; the others are read when present. Extra
columns are ignored.
"""

from __future__ import annotations

from typing import Any, Callable

from normgraph.errors import InvalidInput
from normgraph.models import Kind, Label, ReviewState
from normgraph.source_registry import licence_of

from ingest.canonical import behavior_text, linked_concepts, make_statement
from ingest.pipeline import Record
from ingest.tabular import TabularSource, Table

SOURCE = "social-chem"
LICENCE = licence_of(SOURCE)
COLUMNS = (
    "area", "m", "split", "rot-agree", "rot-categorization", "rot-moral-foundations", "rot-char-targeting",
    "rot-bad", "rot-judgment", "action", "action-agency", "action-moral-judgment", "action-agree", "action-legal",
    "action-pressure", "action-char-involved", "action-hypothetical", "situation", "situation-short-id", "rot",
    "rot-id", "rot-worker-id", "breakdown-worker-id", "n-characters", "characters",
)
REQUIRED = ("rot", "rot-id", "situation", "action")
_NUMBERS = ("m", "rot-agree", "rot-bad", "action-moral-judgment", "action-agree", "action-pressure", "n-characters")
_LISTS = ("rot-categorization", "action-char-involved", "characters")
# Read into fields of their own (not judgments).
_OWN = ("rot", "action", "situation", "rot-moral-foundations")
_RANGES = {"rot-agree": (0, 4), "action-agree": (0, 4), "action-moral-judgment": (-2, 2), "action-pressure": (-2, 2),
           "rot-bad": (0, 1)}


def _number(column: str, value: str) -> int | float:
    try:
        x = float(value)
    except ValueError:
        raise InvalidInput(f"{column}: {value!r} is not a number", {"column": column}) from None
    if x != x:  # NaN, as pandas writes an empty cell
        raise InvalidInput(f"{column}: not a number (NaN)", {"column": column})
    lo_hi = _RANGES.get(column)
    if lo_hi is not None and not lo_hi[0] <= x <= lo_hi[1]:
        raise InvalidInput(f"{column}: {value} is outside {lo_hi[0]}..{lo_hi[1]}", {"column": column})
    return int(x) if x.is_integer() else x


def _number_parser(column: str) -> Callable[[str], int | float]:
    # A few hundred distinct spellings ("4.0", "-1.0" …) across hundreds of thousands of rows.
    cache: dict[str, int | float] = {}

    def parse(value: str) -> int | float:
        x = cache.get(value)
        if x is None:
            x = cache[value] = _number(column, value)
        return x

    return parse


def _list_parser() -> Callable[[str], list[str]]:
    cache: dict[str, list[str]] = {}

    def parse(value: str) -> list[str]:
        x = cache.get(value)
        if x is None:
            x = [v.strip() for v in value.split("|") if v.strip()]
            if len(cache) < 65536:
                cache[value] = x
        return list(x)  # statements do not share one list

    return parse


def label_of_judgment(score: int | float) -> Label:
    if score > 0:
        return Label.expected
    if score < 0:
        return Label.unexpected
    return Label.okay


class SocialChem(TabularSource):
    name = SOURCE
    description = ("Social-Chem-101 rules of thumb: the published 25-column TSV (social-chem-101.v1.0.tsv) or a CSV "
                   "with the same columns; every judgment dimension kept")
    columns = COLUMNS
    required = REQUIRED

    def expected(self) -> str:
        return "Social-Chem-101's columns " + ", ".join(COLUMNS)

    def prepare(self, table: Table) -> tuple[tuple[tuple[str, int, Callable[[str], Any] | None], ...], dict[str, int], str]:
        # Judgment columns in the order of the published file, then where this file has them, each with its parser.
        plan = []
        for c in COLUMNS:
            if c in table.index and c not in _OWN:
                parser = _number_parser(c) if c in _NUMBERS else _list_parser() if c in _LISTS else None
                plan.append((c, table.index[c], parser))
        return tuple(plan), table.index, table.path.name

    def row(self, fields: list[str], line: int, state: Any) -> Record:
        plan, index, file_name = state
        rot = fields[index["rot"]].strip()
        if not rot:
            raise InvalidInput("empty rot (the rule of thumb)")
        action = fields[index["action"]].strip() or None
        situation = fields[index["situation"]].strip() or None
        judgments: dict[str, Any] = {}
        for column, i, parser in plan:
            value = fields[i].strip()
            if not value or value == "nan":
                continue
            judgments[column] = parser(value) if parser is not None else value
        mf_i = index.get("rot-moral-foundations")
        foundations = [f.strip() for f in fields[mf_i].split("|") if f.strip()] if mf_i is not None else []
        score = judgments.get("action-moral-judgment")
        agree = judgments.get("rot-agree")
        rot_id = fields[index["rot-id"]].strip()
        worker = judgments.get("breakdown-worker-id")
        row_id = (f"{rot_id}#{worker}" if worker else rot_id) or None
        st = make_statement(
            kind=Kind.rule_of_thumb,
            source=SOURCE,
            source_row=row_id or line,
            source_file=file_name,
            id=row_id,
            text=rot,
            situation=situation,
            action=action,
            behavior=behavior_text(action),
            label=label_of_judgment(score) if score is not None else None,
            moral_foundations=foundations,
            judgments=judgments,
            licence=LICENCE,
            agreement=agree / 4 if agree is not None else None,
            review_state=ReviewState.rejected if judgments.get("rot-bad") == 1 else ReviewState.trusted,
        )
        return (line, [st, *linked_concepts(st, behavior_as_written=action)])
