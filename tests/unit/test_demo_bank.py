"""The shipped demo bank (normgraph/demo/) is well formed and exercises frame reasoning.

Read with plain json on purpose: this checks the files themselves, independently of the ingest readers.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

import pytest

from normgraph.errors import ConstraintSyntaxError
from normgraph.frames.grammar import parse_frame
from normgraph.models import Relation, Subject

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "normgraph" / "demo"
NORMBANK_SETTINGS = ROOT / ".." / "shared" / "data" / "normbank-taxonomy" / "raw" / "settings.txt"

LABELS = {"expected", "okay", "unexpected"}
AGE_SCALE = [
    "infant", "toddler", "preschooler", "gradeschooler", "teen",
    "young adult", "middle-aged adult", "older adult", "senior citizen",
]
REQUIRED = {"id", "kind", "text", "setting", "behavior", "frame", "label", "source", "licence"}
OPTIONAL = {"country"}

# Deliberate conflicts: same setting and behaviour, different labels, frames that can hold together and
# neither of which entails the other. The resolution tests and the README use these.
DECLARED_CONFLICTS = [
    ("demo-office-eat-at-your-desk-2", "demo-office-eat-at-your-desk-3"),
    ("demo-cinema-use-your-phone-1", "demo-cinema-use-your-phone-2"),
    ("demo-park-play-music-out-loud-2", "demo-park-play-music-out-loud-3"),
    ("demo-gym-take-photos-1", "demo-gym-take-photos-2"),
    ("demo-restaurant-slurp-noodles-1", "demo-restaurant-slurp-noodles-2"),
]


def _load_bank() -> list[dict]:
    rows = []
    with (DEMO / "bank.jsonl").open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                pytest.fail(f"bank.jsonl line {lineno}: invalid JSON: {e}")
            obj["_line"] = lineno
            rows.append(obj)
    return rows


BANK = _load_bank()
TAXONOMY = json.loads((DEMO / "taxonomy.json").read_text(encoding="utf-8"))
CONCEPTS = TAXONOMY["concepts"]
SETTING_CONCEPTS = {c["label"]: c for c in CONCEPTS if c["scheme"] == "setting"}
BEHAVIOR_CONCEPTS = {c["label"]: c for c in CONCEPTS if c["scheme"] == "behavior"}


def _parse_frames() -> tuple[dict[str, tuple], list[str]]:
    parsed, errors = {}, []
    for row in BANK:
        try:
            parsed[row["id"]] = parse_frame(row["frame"])
        except ConstraintSyntaxError as e:
            errors.append(f"bank.jsonl line {row['_line']}: {e.message}")
            parsed[row["id"]] = ()
    return parsed, errors


PARSED, FRAME_ERRORS = _parse_frames()
ALL_CONSTRAINTS = [c for cs in PARSED.values() for c in cs]


def _where(row: dict) -> str:
    return f"bank.jsonl line {row['_line']} ({row.get('id')})"


def _normbank_settings() -> set[str]:
    if not NORMBANK_SETTINGS.is_file():
        pytest.skip(f"NormBank taxonomy not found at {NORMBANK_SETTINGS.resolve()} (../shared/data is absent)")
    return {
        line.strip().removesuffix(".txt")
        for line in NORMBANK_SETTINGS.read_text(encoding="utf-8").splitlines()
        if line.strip()
    }


def _ancestors(setting: str) -> set[str]:
    out: set[str] = set()
    todo = [setting]
    while todo:
        for b in SETTING_CONCEPTS.get(todo.pop(), {}).get("broader", []):
            if b not in out:
                out.add(b)
                todo.append(b)
    return out


# ---------------------------------------------------------------- bank rows


def test_every_row_has_the_documented_fields_and_types():
    for row in BANK:
        keys = set(row) - {"_line"}
        assert REQUIRED <= keys, f"{_where(row)}: missing {sorted(REQUIRED - keys)}"
        assert keys <= REQUIRED | OPTIONAL, f"{_where(row)}: unknown fields {sorted(keys - REQUIRED - OPTIONAL)}"
        assert row["kind"] == "norm", _where(row)
        assert row["source"] == "demo", _where(row)
        assert row["licence"] == "Apache-2.0", _where(row)
        assert row["label"] in LABELS, f"{_where(row)}: label {row['label']!r}"
        assert re.fullmatch(r"demo-[a-z0-9]+(?:-[a-z0-9]+)*-\d+", row["id"]), f"{_where(row)}: id {row['id']!r}"
        for field in ("setting", "behavior"):
            value = row[field]
            assert isinstance(value, str) and value.strip() == value and value, f"{_where(row)}: {field}"
            assert value == value.lower(), f"{_where(row)}: {field} {value!r} is not lowercase"
        assert isinstance(row["frame"], str), _where(row)


def test_texts_are_single_natural_sentences():
    for row in BANK:
        text = row["text"]
        assert text[0].isupper() and text.endswith("."), f"{_where(row)}: {text!r}"
        assert re.search(rf"\b{row['label']}\b", text), f"{_where(row)}: the sentence must state {row['label']!r}"
        assert text.count(". ") == 0, f"{_where(row)}: more than one sentence: {text!r}"


def test_size_and_coverage():
    assert len(BANK) >= 160
    assert len({row["setting"] for row in BANK}) >= 16
    assert {row["label"] for row in BANK} == LABELS


def test_ids_and_texts_are_unique():
    ids = [row["id"] for row in BANK]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})
    texts = [row["text"] for row in BANK]
    assert len(texts) == len(set(texts)), sorted({t for t in texts if texts.count(t) > 1})


def test_every_frame_parses_and_ordinals_are_on_the_age_scale():
    assert not FRAME_ERRORS, "\n".join(FRAME_ERRORS)
    for row in BANK:
        for c in PARSED[row["id"]]:
            if c.relation in (Relation.lt, Relation.le, Relation.gt, Relation.ge):
                assert c.attribute == "age bracket", f"{_where(row)}: ordinal relation on {c.attribute!r}"
            if c.attribute == "age bracket":
                assert c.value in AGE_SCALE, f"{_where(row)}: age bracket {c.value!r}"


def test_every_relation_kind_occurs():
    used = {c.relation for c in ALL_CONSTRAINTS}
    assert used == set(Relation), f"missing relations: {sorted(r.value for r in set(Relation) - used)}"


def test_frames_use_other_environment_country_and_also_doing():
    subjects = {c.subject for c in ALL_CONSTRAINTS}
    assert subjects == set(Subject)
    other_attrs = {c.attribute for c in ALL_CONSTRAINTS if c.subject is Subject.other}
    assert {"role", "age bracket"} <= other_attrs
    env_attrs = {c.attribute for c in ALL_CONSTRAINTS if c.subject is Subject.environment}
    for attr in ("time of day", "noise", "attendance", "event type", "day of the week", "weather", "country"):
        assert attr in env_attrs, f"no norm has an environment constraint on {attr!r}"
    also_doing = [c for c in ALL_CONSTRAINTS if c.subject is Subject.person and c.attribute == "behavior"]
    assert len(also_doing) >= 10
    assert sum(1 for row in BANK if row["frame"] == "") >= 5, "a few unconditional norms are expected"


def test_country_field_matches_the_country_constraint():
    countries = set()
    for row in BANK:
        in_frame = [
            c.value for c in PARSED[row["id"]] if c.subject is Subject.environment and c.attribute == "country"
        ]
        if in_frame:
            assert row.get("country") == in_frame[0], f"{_where(row)}: country field {row.get('country')!r}"
            assert in_frame[0] == in_frame[0].lower(), _where(row)
            countries.add(in_frame[0])
        else:
            assert "country" not in row, f"{_where(row)}: country field without a country constraint"
    assert {"japan", "united states"} <= countries
    tips = {row["label"]: row for row in BANK if row["setting"] == "restaurant" and row["behavior"] == "leave a tip"}
    assert tips["expected"]["country"] == "united states"
    assert tips["unexpected"]["country"] == "japan"


def test_many_overrides_refine_a_general_norm_with_another_label():
    # a more specific frame in the same setting (superset of constraints) that flips the label
    by_key = defaultdict(list)
    for row in BANK:
        by_key[(row["setting"], row["behavior"])].append(row)
    overrides = 0
    for rows in by_key.values():
        for general in rows:
            for specific in rows:
                g, s = set(PARSED[general["id"]]), set(PARSED[specific["id"]])
                if g < s and general["label"] != specific["label"]:
                    overrides += 1
    assert overrides >= 30
    shout = {row["frame"]: row["label"] for row in by_key[("restaurant", "shout")]}
    assert shout["[PERSON]'s role is 'customer'"] == "unexpected"
    assert shout["[PERSON]'s role is 'customer' [AND] [PERSON]'s age bracket is 'toddler'"] == "okay"
    assert shout["[PERSON]'s role is 'server' [AND] [PERSON]'s behavior is 'warn about a fire'"] == "expected"


def test_narrower_settings_both_inherit_and_override():
    normed = defaultdict(set)
    for row in BANK:
        normed[row["setting"]].add(row["behavior"])
    overridden, inherited_only = [], []
    for narrow in SETTING_CONCEPTS:
        for broad in _ancestors(narrow):
            for behavior in normed[broad]:
                (overridden if behavior in normed[narrow] else inherited_only).append((narrow, broad, behavior))
    assert len(overridden) >= 5, overridden
    assert len(inherited_only) >= 20
    diner_shout = [r for r in BANK if r["setting"] == "diner" and r["behavior"] == "shout"]
    assert diner_shout and all(r["label"] == "okay" for r in diner_shout)


def test_declared_conflicts_are_genuine():
    by_id = {row["id"]: row for row in BANK}
    for a_id, b_id in DECLARED_CONFLICTS:
        a, b = by_id[a_id], by_id[b_id]
        assert (a["setting"], a["behavior"]) == (b["setting"], b["behavior"])
        assert a["label"] != b["label"]
        ca, cb = set(PARSED[a_id]), set(PARSED[b_id])
        assert not ca <= cb and not cb <= ca, f"{a_id} / {b_id}: one frame contains the other"
        # compatible: the constraints that differ are about attributes the other frame does not mention
        keys_a = {(c.subject, c.attribute) for c in ca - cb}
        keys_b = {(c.subject, c.attribute) for c in cb - ca}
        assert not keys_a & keys_b, f"{a_id} / {b_id}: frames disagree on {keys_a & keys_b}"


# ---------------------------------------------------------------- taxonomy


def test_taxonomy_shape():
    assert set(TAXONOMY) <= {"concepts", "source", "licence", "description"}
    assert TAXONOMY.get("source") == "demo" and TAXONOMY.get("licence") == "Apache-2.0"
    for c in CONCEPTS:
        assert c["scheme"] in {"setting", "behavior"}, c
        assert c["label"] == c["label"].lower() and c["label"].strip() == c["label"], c
        assert isinstance(c.get("alt_labels", []), list)
        if c["scheme"] == "behavior":
            assert "broader" not in c or c["broader"] == [], c
    for scheme in ("setting", "behavior"):
        labels = [c["label"] for c in CONCEPTS if c["scheme"] == scheme]
        assert len(labels) == len(set(labels)), f"duplicate {scheme} labels"


def test_aliases_are_unambiguous():
    for scheme in ("setting", "behavior"):
        seen: dict[str, str] = {}
        for c in (c for c in CONCEPTS if c["scheme"] == scheme):
            for name in [c["label"], *c.get("alt_labels", [])]:
                assert name not in seen, f"{scheme} name {name!r} used by {seen[name]!r} and {c['label']!r}"
                seen[name] = c["label"]


def test_setting_hierarchy():
    used = {row["setting"] for row in BANK}
    links = [(c["label"], b) for c in SETTING_CONCEPTS.values() for b in c.get("broader", [])]
    assert len(links) >= 6
    for narrow, broad in links:
        assert broad in used or broad in SETTING_CONCEPTS, f"{narrow} -> {broad}: unknown broader setting"
    for label in SETTING_CONCEPTS:
        assert label not in _ancestors(label), f"broader cycle through {label!r}"
    for narrow, broad in [("diner", "restaurant"), ("classroom", "school"), ("hospital room", "hospital"),
                          ("library reading room", "library")]:
        assert broad in _ancestors(narrow)


def test_behavior_aliases():
    with_aliases = [c for c in BEHAVIOR_CONCEPTS.values() if c.get("alt_labels")]
    assert len(with_aliases) >= 15
    used = {row["behavior"] for row in BANK}
    unused = set(BEHAVIOR_CONCEPTS) - used
    assert not unused, f"behaviour concepts with no demo norm: {sorted(unused)}"
    assert not {a for c in with_aliases for a in c["alt_labels"]} & used, "an alias is also a behaviour label"


def test_settings_are_normbank_settings_or_defined_here():
    normbank = _normbank_settings()
    for row in BANK:
        assert row["setting"] in normbank or row["setting"] in SETTING_CONCEPTS, (
            f"{_where(row)}: setting {row['setting']!r} is neither a NormBank setting nor in taxonomy.json"
        )
    new = set(SETTING_CONCEPTS) - normbank
    assert new, "the demo defines some narrower settings of its own"
    shadowing = {a for c in SETTING_CONCEPTS.values() for a in c.get("alt_labels", [])} & normbank
    assert not shadowing, f"alt labels that would shadow NormBank settings: {sorted(shadowing)}"


def test_settings_used_are_defined_without_the_shared_data():
    # the demo must be self-contained for `make serve` on a machine without ../shared/data
    missing = {row["setting"] for row in BANK} - set(SETTING_CONCEPTS)
    assert not missing, f"settings used but not in taxonomy.json: {sorted(missing)}"
