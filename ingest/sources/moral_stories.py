"""Moral Stories as published (``moral_stories_full.jsonl`` and the task splits): one JSON object per line with
``ID, norm, situation, intention, moral_action, moral_consequence, immoral_action, immoral_consequence``.

Each story gives three statements, all linked to the story's situation:

- the **norm** as a rule of thumb (``text`` = ``norm``), with the story's ``intention``, actions and
  consequences among its ``judgments``;
- the **moral action** as a norm judged ``expected`` and the **immoral action** as a norm judged
  ``unexpected`` — each action is a behaviour node, shared with any other source that writes the same action.

Ids come from ``ID`` (``<ID>`` for the rule, ``<ID>/moral_action`` and ``<ID>/immoral_action`` for the actions).
``ID``, ``norm`` and ``situation`` are required; a story without an action gives the statements it has. Keys
other than those above (e.g. a classification split's ``label``) are kept among the rule's judgments.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, TypedDict

import orjson
from normgraph.errors import InvalidInput
from normgraph.models import Kind, Label
from normgraph.source_registry import licence_of
from pydantic import ValidationError

from ingest.canonical import behavior_text, linked_concepts, make_norm, make_statement
from ingest.checkpoint import Position
from ingest.jsonlines import json_lines, line_text
from ingest.pipeline import ByteCounter, Item, Record, ResumableFileSource, check_file
from ingest.rejects import Reject
from ingest.tabular import short_error

SOURCE = "moral-stories"
LICENCE = licence_of(SOURCE)
COLUMNS = ("ID", "norm", "situation", "intention", "moral_action", "moral_consequence", "immoral_action",
           "immoral_consequence")
_STORY = ("intention", "moral_action", "moral_consequence", "immoral_action", "immoral_consequence")


class _StoryCommon(TypedDict):
    """The constructor arguments a story's statements share."""

    source: str
    source_row: str
    source_file: str | None
    licence: str | None
    situation: str


class MoralStories(ResumableFileSource):
    name = SOURCE
    description = "Moral Stories JSON Lines (ID, norm, situation, intention, moral/immoral action and consequence)"
    columns = COLUMNS

    def records(self, path: Path, counter: ByteCounter | None = None, *, start: Position | None = None) -> Iterator[Record]:
        path = check_file(path)
        counter = counter if counter is not None else ByteCounter()
        for item in json_lines(path, counter, start):
            yield item if isinstance(item, Reject) else _record(item[1], item[0], path.name)


def _record(raw: bytes, line: int, file_name: str) -> Record:
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        return Reject(line, f"not JSON: {e}", line_text(raw))
    if not isinstance(obj, dict):
        return Reject(line, "expected a JSON object (one story per line)", line_text(raw))
    try:
        return (line, story(obj, line, file_name))
    except (InvalidInput, ValidationError) as e:
        return Reject(line, short_error(e), line_text(raw))


def _field(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{key!r} must be a string, not {type(value).__name__}")
    return value.strip() or None


def story(obj: dict[str, Any], line: int, file_name: str | None = None) -> list[Item]:
    """One story -> its rule of thumb and judged actions (and their behaviour nodes)."""
    raw_id = obj.get("ID")
    if isinstance(raw_id, bool) or not isinstance(raw_id, (str, int)) or not str(raw_id).strip():
        raise InvalidInput("missing 'ID'")
    story_id = str(raw_id).strip()
    norm = _field(obj, "norm")
    situation = _field(obj, "situation")
    if norm is None:
        raise InvalidInput("missing 'norm'")
    if situation is None:
        raise InvalidInput("missing 'situation'")
    judgments = {k: obj[k] for k in obj if k not in ("ID", "norm", "situation") and obj[k] is not None}
    for k in _STORY:
        _field(obj, k)  # type check
    common = _StoryCommon(
        source=SOURCE, source_row=story_id, source_file=file_name, licence=LICENCE, situation=situation
    )
    rule = make_statement(kind=Kind.rule_of_thumb, id=story_id, text=norm, judgments=judgments, **common)
    out: list[Item] = [rule]
    for key, label, verb in (("moral_action", Label.expected, "keeps"), ("immoral_action", Label.unexpected, "breaks")):
        action = _field(obj, key)
        if action is None:
            continue
        act = make_norm(
            id=f"{story_id}/{key}",
            behavior=behavior_text(action),
            constraints=(),
            setting=None,
            label=label,
            text=f"{action} ({label.value}: it {verb} the norm \"{norm}\")",
            **common,
        )
        out += [act, *linked_concepts(act, behavior_as_written=action)]
    return out
