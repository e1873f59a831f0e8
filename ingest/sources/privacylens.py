"""PrivacyLens contextual-integrity norms, from ``main_data.json`` as published (a JSON array of
``{"name", "seed", "vignette", "trajectory"}``) or from the flat CSV of its seeds
(``name, file, data_type, data_subject, data_sender, data_recipient, transmission_principle, source, story,
data_type_concrete``). The format is detected from the first byte.

Every PrivacyLens seed describes an information flow its authors judge inappropriate, so each becomes a norm
labelled ``unexpected``, written as a frame over the five contextual-integrity parameters:

- behaviour: ``share <data type>``;
- ``[PERSON]``'s role is the data sender, ``[OTHER]``'s role is the data recipient (leading articles dropped);
- environment ``data subject`` and ``transmission principle`` constraints;
- the vignette story is the situation.

Ids come from ``name`` (``main1`` …), so the JSON file and the flat CSV load onto the same norms (the CSV's
``file`` column is the record's source file). The seed's own ``source`` (regulation, literature,
crowdsourcing …), which the schema has no field for, is kept verbatim in ``provenance.source_fields["source"]``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterator

from normgraph.errors import IngestError, InvalidInput
from normgraph.models import Constraint, Label, Subject
from normgraph.source_registry import licence_of
from pydantic import ValidationError

from ingest.canonical import linked_concepts, make_norm
from ingest.checkpoint import Position
from ingest.pipeline import ByteCounter, Item, Record, ResumableFileSource, check_file
from ingest.rejects import Reject
from ingest.tabular import Table, TabularSource, short_error

SOURCE = "privacylens"
LICENCE = licence_of(SOURCE)
COLUMNS = ("name", "file", "data_type", "data_subject", "data_sender", "data_recipient", "transmission_principle",
           "source", "story", "data_type_concrete")
PARAMETERS = ("data_type", "data_subject", "data_sender", "data_recipient", "transmission_principle")
_ARTICLE = re.compile(r"^(?:the|a|an)\s+", re.IGNORECASE)
_decoder = json.JSONDecoder()


def _role(text: str) -> str:
    return _ARTICLE.sub("", text).strip() or text


def flow_norm(name: str, seed: dict[str, Any], story: str | None, line: int, file_name: str | None) -> list[Item]:
    """One information flow -> its norm (and behaviour node). The seed's ``source`` (where the flow came from)
    goes into ``provenance.source_fields``."""
    values: dict[str, str] = {}
    for key in PARAMETERS:
        value = seed.get(key)
        if not isinstance(value, str) or not value.strip():
            raise InvalidInput(f"missing {key!r}")
        values[key] = " ".join(value.split())
    sender, recipient = values["data_sender"], values["data_recipient"]
    constraints = (
        Constraint(subject=Subject.person, attribute="role", value=_role(sender)),
        Constraint(subject=Subject.other, attribute="role", value=_role(recipient)),
        Constraint(subject=Subject.environment, attribute="data subject", value=values["data_subject"]),
        Constraint(subject=Subject.environment, attribute="transmission principle",
                   value=values["transmission_principle"]),
    )
    text = (f"It is unexpected for {sender} to share {values['data_type']} about {values['data_subject']} "
            f"with {recipient} ({values['transmission_principle']}).")
    norm = make_norm(
        source=SOURCE,
        source_row=name,
        source_file=file_name,
        id=name,
        setting=None,
        behavior=f"share {values['data_type']}",
        constraints=constraints,
        label=Label.unexpected,
        text=text,
        situation=story,
        licence=LICENCE,
        source_fields={"source": origin.strip()} if isinstance(origin := seed.get("source"), str) and origin.strip() else None,
    )
    return [norm, *linked_concepts(norm)]


class _FlatCsv(TabularSource):
    name = SOURCE
    columns = COLUMNS
    required = ("name", *PARAMETERS)

    def prepare(self, table: Table) -> tuple[dict[str, int], str]:
        return table.index, table.path.name

    def row(self, fields: list[str], line: int, state: Any) -> Record:
        index, file_name = state
        name = fields[index["name"]].strip()
        if not name:
            raise InvalidInput("empty name")
        seed = {k: fields[index[k]] for k in (*PARAMETERS, "source") if k in index}
        story = fields[index["story"]].strip() if "story" in index else ""
        source_file = fields[index["file"]].strip() if "file" in index else ""
        return (line, flow_norm(name, seed, story or None, line, source_file or file_name))


class PrivacyLens(ResumableFileSource):
    name = SOURCE
    description = ("PrivacyLens contextual-integrity norms: main_data.json as published or the flat seeds CSV "
                   "(name, file, data_type, data_subject, data_sender, data_recipient, transmission_principle, "
                   "source, story); each flow is a norm labelled unexpected with the vignette as its situation")
    columns = COLUMNS

    def records(self, path: Path, counter: ByteCounter | None = None, *,
                start: Position | None = None) -> Iterator[Record]:
        path = check_file(path)
        counter = counter if counter is not None else ByteCounter()
        with open(path, "rb") as fh:
            head = fh.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
        if head[:1] in (b"[", b"{"):
            yield from _json_records(path, counter, start)
        else:
            yield from _FlatCsv().records(path, counter, start=start)


def _json_records(path: Path, counter: ByteCounter, start: Position | None) -> Iterator[Record]:
    """The elements of the top-level array, each with the line it starts on. ``counter.line`` counts elements
    (a checkpoint's position in a JSON file is the number of elements done)."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise IngestError(f"{path}: line {line}: not valid UTF-8", {"file": str(path), "line": line}) from None
    i = _skip_ws(text, 0)
    if i >= len(text) or text[i] != "[":
        raise IngestError(f"{path}: expected a JSON array of PrivacyLens records (as main_data.json)",
                          {"file": str(path)})
    skip = start.line if start is not None else 0
    i = _skip_ws(text, i + 1)
    line, counted_to, n = 1, 0, 0
    while i < len(text) and text[i] != "]":
        line += text.count("\n", counted_to, i)
        counted_to = i
        try:
            value, i = _decoder.raw_decode(text, i)
        except json.JSONDecodeError as e:
            raise IngestError(f"{path}: line {e.lineno} column {e.colno}: not valid JSON ({e.msg})",
                              {"file": str(path), "line": e.lineno}) from None
        n += 1
        counter.line = n
        counter.done = i
        i = _skip_ws(text, i)
        if i < len(text) and text[i] == ",":
            i = _skip_ws(text, i + 1)
        if n <= skip:
            continue
        yield _json_record(value, line, path.name)
    counter.done = len(data)


def _json_record(value: Any, line: int, file_name: str) -> Record:
    raw = json.dumps(value, ensure_ascii=False)[:2000]
    if not isinstance(value, dict):
        return Reject(line, "expected a PrivacyLens record object", raw)
    name = value.get("name")
    seed = value.get("seed")
    vignette = value.get("vignette") or {}
    if not isinstance(name, str) or not name.strip():
        return Reject(line, "missing 'name'", raw)
    if not isinstance(seed, dict):
        return Reject(line, "missing 'seed' (the flow's data type, subject, sender, recipient, principle)", raw)
    story = vignette.get("story") if isinstance(vignette, dict) else None
    try:
        return (line, flow_norm(name.strip(), seed, story.strip() if isinstance(story, str) and story.strip() else None,
                                line, file_name))
    except (InvalidInput, ValidationError) as e:
        return Reject(line, short_error(e), raw)


def _skip_ws(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t\r\n":
        i += 1
    return i
