"""The NormBank taxonomy directory as SKOS concepts, with counts recounted here straight from the files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ingest.sources.normbank_taxonomy import NormBankTaxonomy
from normgraph.errors import IngestError
from normgraph.ids import concept_id
from normgraph.models import ConceptScheme, Subject
from normgraph.store import open_store


def _lines(path: Path) -> list[str]:
    return [" ".join(x.split()) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def _stem(name: str) -> str:
    return name[:-4] if name.endswith(".txt") else name


def recount(root: Path) -> dict[str, int]:
    """Distinct concept ids per scheme, computed from the raw files alone."""
    raw = root / "raw"
    vocab = json.loads((root / "constraint_dict.json").read_text(encoding="utf-8"))
    settings = {concept_id("setting", _stem(x)) for x in _lines(raw / "settings.txt")}
    for part in ("Settings-Roles", "Settings-Items", "Behaviors-All-Hand-Filtered"):
        settings |= {concept_id("setting", _stem(f.name)) for f in (raw / part).glob("*.txt")}
    settings |= {concept_id("setting", d.name) for d in (raw / "Settings-Roles-Items").iterdir() if d.is_dir()}

    def per_line(scheme: str, files) -> set[str]:
        return {concept_id(scheme, x) for f in files for x in _lines(f)}

    roles = per_line("role", (raw / "Settings-Roles").glob("*.txt"))
    behaviors = per_line("behavior", (raw / "Behaviors-All-Hand-Filtered").glob("*.txt"))
    items = per_line("item", [*(raw / "Settings-Items").glob("*.txt"), *(raw / "Settings-Roles-Items").glob("*/*.txt")])

    values: dict[str, set[str]] = {}
    for f in (raw / "Attributes").glob("*.txt"):
        if f.stem != "country-subset":  # other spellings of country.txt entries, kept as alt labels
            values.setdefault(f.stem, set()).update(_lines(f))
    for key in ("the PERSON PERFORMING BEHAVIOR's attribute", "some OTHER PERSON's attribute", "the environment"):
        for name, vals in vocab[key].items():
            values.setdefault(name, set()).update(" ".join(v.split()) for v in vals)
    attributes = {concept_id("attribute", a) for a in values} | {"attribute/role", "attribute/behavior"}
    attribute_values = {concept_id("attribute_value", v, a) for a, vs in values.items() for v in vs}
    return {
        "setting": len(settings),
        "role": len(roles),
        "behavior": len(behaviors),
        "item": len(items),
        "attribute": len(attributes),
        "attribute_value": len(attribute_values),
    }


@pytest.fixture(scope="module")
def taxonomy(shared_data: Path) -> Path:
    root = shared_data / "normbank-taxonomy"
    if not (root / "raw" / "settings.txt").is_file():
        pytest.skip(f"NormBank taxonomy not found at {root}")
    return root


@pytest.fixture(scope="module")
def loaded(taxonomy: Path, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("taxonomy")
    store = open_store("oxigraph", tmp / "store")
    summary = NormBankTaxonomy().load(taxonomy, store, rejects_path=tmp / "rejects.jsonl", progress=False)
    yield store, summary, tmp
    store.close()


@pytest.mark.slow
def test_concept_counts_match_an_independent_recount(taxonomy, loaded):
    store, summary, _ = loaded
    expected = recount(taxonomy)
    assert store.stats().concepts == expected
    assert summary.loaded == summary.concepts == sum(expected.values())
    assert summary.rejected == 0 and summary.rejects_path is None
    # The published figures (DATA.md, DESIGN §1): 261 settings listed, 773 person attribute values in the
    # dictionary, 14 environment attributes, 1,408 role lines (902 distinct roles).
    assert len(_lines(taxonomy / "raw" / "settings.txt")) == 261
    role_lines = sum(len(_lines(f)) for f in (taxonomy / "raw" / "Settings-Roles").glob("*.txt"))
    assert (role_lines, expected["role"]) == (1408, 902)
    env = [c for c in store.concepts(ConceptScheme.attribute) if c.subject is Subject.environment]
    assert len(env) == 14


@pytest.mark.slow
def test_concepts_carry_settings_hierarchy_aliases_and_attributes(loaded):
    store, _, _ = loaded
    cook = store.get_concept("role/cook")
    assert "setting/restaurant" in cook.related_settings
    assert cook.provenance.source == "normbank-taxonomy" and cook.provenance.licence == "CC BY-SA 4.0"
    assert store.broader_closure("setting/church") == ["setting/church", "setting/church-or-chapel"]
    shout_like = store.get_concept("behavior/do-push-ups")
    assert {shout_like.label, *shout_like.alt_labels} == {"do push ups", "do push-ups"}
    usa = store.find_concept(ConceptScheme.attribute_value, "united states")
    assert usa is not None and usa.id == "attribute_value/country/the-united-states-of-america"
    assert usa.attribute == "country"
    assert store.find_concept(ConceptScheme.attribute_value, "Netherlands").id == "attribute_value/country/the-netherlands"
    age = store.get_concept("attribute/age-bracket")
    assert age.subject is Subject.person and age.definition.startswith("ordinal: infant < toddler")
    assert store.get_concept("attribute/time-of-day").subject is Subject.environment
    toddler = store.get_concept("attribute_value/age-bracket/toddler")
    assert toddler.scheme is ConceptScheme.attribute_value and toddler.attribute == "age bracket"
    assert store.get_concept("attribute_value/condition-or-state/mad") is not None  # only in constraint_dict


@pytest.mark.slow
def test_reingesting_the_taxonomy_changes_nothing(taxonomy, loaded):
    store, first, tmp = loaded
    before = store.stats()
    again = NormBankTaxonomy().load(taxonomy, store, rejects_path=tmp / "rejects.jsonl", progress=False)
    assert (again.loaded, again.updated, again.duplicates) == (0, 0, first.loaded)
    assert store.stats() == before


def test_small_taxonomy_with_a_bad_line(tmp_path, store):
    root = tmp_path / "tax"
    (root / "raw" / "Settings-Roles").mkdir(parents=True)
    (root / "raw" / "Behaviors-All-Hand-Filtered").mkdir(parents=True)
    (root / "raw" / "settings.txt").write_text("cafe.txt\nbar.txt\n", encoding="utf-8")
    (root / "raw" / "Settings-Roles" / "cafe.txt").write_text("barista\nCashier\n", encoding="utf-8")
    (root / "raw" / "Settings-Roles" / "bar.txt").write_text("bartender\ncashier\n", encoding="utf-8")
    (root / "raw" / "Behaviors-All-Hand-Filtered" / "bar.txt").write_bytes(b"sing\n\xff\xfe oops\ndance\n")
    summary = NormBankTaxonomy().load(root, store, rejects_path=tmp_path / "r.jsonl", progress=False)
    assert store.stats().concepts == {"setting": 2, "role": 3, "behavior": 2, "attribute": 2}
    cashier = store.get_concept("role/cashier")
    assert set(cashier.related_settings) == {"setting/cafe", "setting/bar"}
    assert summary.rejected == 1
    reject = json.loads((tmp_path / "r.jsonl").read_text(encoding="utf-8"))
    assert reject["line"] == 2 and reject["file"].endswith("Behaviors-All-Hand-Filtered/bar.txt")


def test_not_a_taxonomy_directory(tmp_path, store):
    with pytest.raises(IngestError, match="no raw/settings.txt"):
        NormBankTaxonomy().load(tmp_path, store, progress=False)
    f = tmp_path / "file.txt"
    f.write_text("x", encoding="utf-8")
    with pytest.raises(IngestError, match="expected a directory"):
        NormBankTaxonomy().load(f, store, progress=False)
    with pytest.raises(IngestError, match="no such directory"):
        NormBankTaxonomy().load(tmp_path / "missing", store, progress=False)


def test_malformed_constraint_dict_is_a_whole_input_error(tmp_path, store, taxonomy):
    root = tmp_path / "tax"
    (root / "raw").mkdir(parents=True)
    shutil.copy(taxonomy / "raw" / "settings.txt", root / "raw" / "settings.txt")
    (root / "constraint_dict.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(IngestError, match="constraint_dict.json"):
        NormBankTaxonomy().load(root, store, progress=False)
