"""NormBank's SCENE taxonomy directory -> SKOS concepts (settings, roles, items, behaviours, attributes and
their values).

Layout (as published in SALT-NLP/normbank)::

    raw/settings.txt                                   one "<setting>.txt" per line
    raw/Settings-Roles/<setting>.txt                   roles in a setting
    raw/Settings-Items/<setting>.txt                   items in a setting
    raw/Settings-Roles-Items/<setting>/<setting>_<role>.txt   items a role uses in a setting
    raw/Behaviors-All-Hand-Filtered/<setting>.txt      behaviours in a setting
    raw/Attributes/<attribute>.txt                     values of a person attribute
    constraint_dict.json                               the constraint vocabulary by category

Decisions (the files disagree in small ways):

- Settings are ``settings.txt`` plus every setting named by a file or folder of the other parts (NormBank's
  behaviours use "church or chapel", "jail or prison", "barber shop or beauty salon"; items name "cockpit",
  "courtroom"). A setting "X or Y" is made broader than X and Y when those are settings, so a query for
  "church" also finds the norms written for "church or chapel".
- Roles, items and behaviours are one concept per distinct label (ids from ``concept_id``, so spellings that
  differ only in case or punctuation — "do push-ups" / "do push ups" — are one concept; the most frequent
  spelling is the preferred label, the others alt labels), related to every setting they occur in.
- Settings-Roles-Items are items related to their setting; the Concept model has no field for the role that
  uses an item, so that link is not kept.
- Person attributes are ``raw/Attributes`` plus constraint_dict's "the PERSON PERFORMING BEHAVIOR's
  attribute" (values are the union: ``condition or state`` has "mad" only in the dictionary); they describe
  [OTHER] too. Environment attributes come from constraint_dict's "the environment". ``role`` and
  ``behavior`` (also doing) are attributes too: their values are the role and behaviour schemes.
- ``country-subset.txt`` is a 50-country subset of ``country.txt`` with a few other spellings ("the United
  States", "Netherlands"); it adds those spellings as alt labels of the matching country, not a new attribute.
  Every "the X" country also gets "X" as an alt label (NormBank rows say 'united states').
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from normgraph.errors import IngestError
from normgraph.ids import concept_id, normalise_text
from normgraph.models import ConceptScheme, Subject
from normgraph.source_registry import licence_of

from ingest.canonical import make_concept
from ingest.pipeline import Record, WholeInputSource, check_dir
from ingest.rejects import Reject

SOURCE = "normbank-taxonomy"
LICENCE = licence_of(SOURCE)
ENV_KEY = "the environment"
PERSON_ATTR_KEY = "the PERSON PERFORMING BEHAVIOR's attribute"
OTHER_ATTR_KEY = "some OTHER PERSON's attribute"
COUNTRY_SUBSET = "country-subset"
_TRAILING_JUNK = re.compile(r"[\s,;:!.)]+$")


@dataclass
class _Pending:
    """One concept being assembled from many file lines."""

    scheme: ConceptScheme
    spellings: Counter[str] = field(default_factory=Counter)
    settings: dict[str, None] = field(default_factory=dict)
    alt_labels: dict[str, None] = field(default_factory=dict)
    broader: dict[str, None] = field(default_factory=dict)
    attribute: str | None = None
    subject: Subject | None = None
    definition: str | None = None
    first_file: str = ""
    first_line: int = 0

    def preferred(self) -> str:
        # Most frequent spelling; ties go to one without trailing punctuation, then the alphabetically first.
        return min(self.spellings, key=lambda s: (-self.spellings[s], bool(_TRAILING_JUNK.search(s)), s))


class _Builder:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.concepts: dict[str, _Pending] = {}
        self.rejects: list[Reject] = []

    def add(
        self,
        scheme: ConceptScheme,
        label: str,
        where: tuple[str, int],
        setting: str | None = None,
        attribute: str | None = None,
        subject: Subject | None = None,
    ) -> str:
        label = " ".join(label.split())
        cid = concept_id(scheme.value, label, attribute)
        p = self.concepts.get(cid)
        if p is None:
            p = self.concepts[cid] = _Pending(
                scheme, attribute=attribute, subject=subject, first_file=where[0], first_line=where[1]
            )
        p.spellings[label] += 1
        if setting is not None:
            p.settings[setting] = None
        return cid

    def lines(self, path: Path) -> Iterator[tuple[int, str]]:
        """Non-blank stripped lines of a taxonomy file; a line that is not UTF-8 is a reject."""
        with open(path, "rb") as fh:
            for n, raw in enumerate(fh, 1):
                try:
                    text = raw.decode("utf-8-sig" if n == 1 else "utf-8").strip()
                except UnicodeDecodeError as e:
                    self.rejects.append(
                        Reject(n, f"line is not valid UTF-8: byte 0x{raw[e.start]:02x} at column {e.start + 1}",
                               raw.decode("utf-8", "replace").rstrip("\r\n"), file=str(path))
                    )
                    continue
                if text:
                    yield n, text

    def rel(self, path: Path) -> str:
        return str(path.relative_to(self.root))


def _stem(name: str) -> str:
    return name[:-4] if name.lower().endswith(".txt") else name


def _txt_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".txt") if folder.is_dir() else []


def _without_the(name: str) -> str:
    return name[4:] if name.lower().startswith("the ") else name


class NormBankTaxonomy(WholeInputSource):
    name = SOURCE
    check = staticmethod(check_dir)
    description = "NormBank's SCENE taxonomy directory (raw/settings.txt, Settings-Roles, Settings-Items, Behaviors-All-Hand-Filtered, Attributes, constraint_dict.json) as SKOS concepts"
    columns = (
        "raw/settings.txt",
        "raw/Settings-Roles/",
        "raw/Settings-Items/",
        "raw/Settings-Roles-Items/",
        "raw/Behaviors-All-Hand-Filtered/",
        "raw/Attributes/",
        "constraint_dict.json",
    )

    def records(self, root: Path) -> Iterator[Record]:
        """All concepts of the taxonomy (ordered by id), then the rejected lines."""
        root = check_dir(root)
        raw = root / "raw"
        if not (raw / "settings.txt").is_file():
            raise IngestError(
                f"{root}: not a NormBank taxonomy directory (no raw/settings.txt)", {"file": str(root)}
            )
        b = _Builder(root)
        vocab = _constraint_dict(root)
        setting_ids = _settings(b, raw)
        _roles_items_behaviours(b, raw)
        _attributes(b, raw, vocab)
        _composite_settings(b, setting_ids)
        for cid in sorted(b.concepts):
            p = b.concepts[cid]
            pref = p.preferred()
            concept = make_concept(
                scheme=p.scheme,
                label=pref,
                alt_labels=[*(s for s in sorted(p.spellings) if s != pref), *p.alt_labels],
                source=SOURCE,
                source_row=p.first_line,
                source_file=p.first_file,
                licence=LICENCE,
                attribute=p.attribute,
                subject=p.subject,
                definition=p.definition,
            )
            # Ids were derived from the labels as read; keep them even if the preferred spelling slugs apart.
            concept = concept.model_copy(
                update={"id": cid, "broader": tuple(p.broader), "related_settings": tuple(p.settings)}
            )
            yield (p.first_line, concept)
        yield from b.rejects


def _constraint_dict(root: Path) -> dict[str, Any]:
    path = root / "constraint_dict.json"
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError) as e:
        raise IngestError(f"{path}: not valid JSON: {e}", {"file": str(path)}) from None
    if not isinstance(data, dict):
        raise IngestError(f"{path}: expected a JSON object of categories", {"file": str(path)})
    return data


def _settings(b: _Builder, raw: Path) -> set[str]:
    ids: set[str] = set()
    settings_txt = raw / "settings.txt"
    for n, text in b.lines(settings_txt):
        ids.add(b.add(ConceptScheme.setting, _stem(text), (b.rel(settings_txt), n)))
    # Settings named only by the files and folders of the other parts.
    for part in ("Settings-Roles", "Settings-Items", "Behaviors-All-Hand-Filtered"):
        for f in _txt_files(raw / part):
            ids.add(b.add(ConceptScheme.setting, _stem(f.name), (b.rel(f), 0)))
    sri = raw / "Settings-Roles-Items"
    if sri.is_dir():
        for d in sorted(p for p in sri.iterdir() if p.is_dir()):
            ids.add(b.add(ConceptScheme.setting, d.name, (b.rel(d), 0)))
    return ids


def _setting_id(name: str) -> str:
    return concept_id(ConceptScheme.setting.value, name)


def _roles_items_behaviours(b: _Builder, raw: Path) -> None:
    for scheme, part in (
        (ConceptScheme.role, "Settings-Roles"),
        (ConceptScheme.item, "Settings-Items"),
        (ConceptScheme.behavior, "Behaviors-All-Hand-Filtered"),
    ):
        for f in _txt_files(raw / part):
            setting = _setting_id(_stem(f.name))
            for n, text in b.lines(f):
                b.add(scheme, text, (b.rel(f), n), setting=setting)
    sri = raw / "Settings-Roles-Items"
    if sri.is_dir():
        for d in sorted(p for p in sri.iterdir() if p.is_dir()):
            setting = _setting_id(d.name)
            for f in _txt_files(d):
                for n, text in b.lines(f):
                    b.add(ConceptScheme.item, text, (b.rel(f), n), setting=setting)


def _attributes(b: _Builder, raw: Path, vocab: dict[str, Any]) -> None:
    person: dict[str, list[tuple[str, tuple[str, int]]]] = {}
    subset: list[tuple[str, tuple[str, int]]] = []
    for f in _txt_files(raw / "Attributes"):
        name = normalise_text(_stem(f.name))
        values = [(text, (b.rel(f), n)) for n, text in b.lines(f)]
        if name == COUNTRY_SUBSET:
            subset = values
        else:
            person.setdefault(name, []).extend(values)
    dict_file = "constraint_dict.json"
    for key in (PERSON_ATTR_KEY, OTHER_ATTR_KEY):
        for name, listed in (vocab.get(key) or {}).items():
            if isinstance(listed, list):
                person.setdefault(normalise_text(name), []).extend(
                    (v, (dict_file, 0)) for v in listed if isinstance(v, str) and v.strip()
                )
    env: dict[str, list[tuple[str, tuple[str, int]]]] = {}
    for name, listed in (vocab.get(ENV_KEY) or {}).items():
        if isinstance(listed, list):
            env.setdefault(normalise_text(name), []).extend(
                (v, (dict_file, 0)) for v in listed if isinstance(v, str) and v.strip()
            )

    for subject, table in ((Subject.person, person), (Subject.environment, env)):
        for name in sorted(table):
            values = table[name]
            where = values[0][1] if values else (dict_file, 0)
            aid = b.add(ConceptScheme.attribute, name, where, subject=subject)
            for text, at in values:
                b.add(ConceptScheme.attribute_value, text, at, attribute=name)
            if name == "age bracket":
                order = list(dict.fromkeys(" ".join(v.split()) for v, _ in values))
                b.concepts[aid].definition = "ordinal: " + " < ".join(order)
    for name, definition in (
        ("role", "the person's role in the setting; values are concepts of the role scheme"),
        ("behavior", "something the person is also doing; values are concepts of the behavior scheme"),
    ):
        aid = b.add(ConceptScheme.attribute, name, (dict_file, 0), subject=Subject.person)
        b.concepts[aid].definition = definition
    _country_spellings(b, subset)


def _country_spellings(b: _Builder, subset: list[tuple[str, tuple[str, int]]]) -> None:
    countries = {
        cid: p for cid, p in b.concepts.items()
        if p.scheme is ConceptScheme.attribute_value and p.attribute == "country"
    }
    by_key = {normalise_text(_without_the(p.preferred())): cid for cid, p in countries.items()}
    for p in countries.values():
        bare = _without_the(p.preferred())
        if bare != p.preferred():
            p.alt_labels[bare] = None
    for text, at in subset:
        key = normalise_text(_without_the(text))
        cid = by_key.get(key)
        if cid is None:
            # "the United States" -> "the United States of America": the only country whose name extends it.
            longer = [c for k, c in by_key.items() if k.startswith(key + " ")]
            cid = longer[0] if len(longer) == 1 else None
        if cid is None:
            b.add(ConceptScheme.attribute_value, text, at, attribute="country")
            continue
        target = countries[cid]
        for spelling in (text, _without_the(text)):
            if normalise_text(spelling) != normalise_text(target.preferred()):
                target.alt_labels[" ".join(spelling.split())] = None


def _composite_settings(b: _Builder, setting_ids: set[str]) -> None:
    """``church`` and ``chapel`` are narrower than ``church or chapel``."""
    for cid in sorted(setting_ids):
        label = b.concepts[cid].preferred()
        if " or " not in label:
            continue
        for part in label.split(" or "):
            part_id = _setting_id(part)
            if part_id in setting_ids and part_id != cid:
                b.concepts[part_id].broader[cid] = None
