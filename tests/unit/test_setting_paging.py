"""Setting-only queries page over the setting's behaviours before reading norms (``store.behavior_counts``
first, then the candidates of the page's behaviours). The answers must be those of reading every norm of the
setting and paging afterwards (``read_every_norm=True``, the earlier design), page for page, on real stores."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Sequence

import pytest

from normgraph.frames.grammar import parse_frame
from normgraph.frames.resolve import answer_query
from normgraph.ids import concept_id, statement_id
from normgraph.models import Concept, ConceptScheme, Label, Norm, Provenance, ReviewState
from normgraph.services import NormBankService
from normgraph.settings import Settings
from normgraph.store.oxigraph import OxigraphStore

FACT_SETS = [
    [],
    ["[PERSON]'s role is 'customer'"],
    ["[PERSON]'s role is 'customer'", "[PERSON]'s age bracket is 'toddler'"],
    ["[PERSON]'s role is 'student'", "time of day is 'night'"],
]


class RecordingStore(OxigraphStore):
    """The real store, remembering what ``candidates`` was asked for."""

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        super().__init__(path, read_only=read_only)
        self.asked: list[tuple[tuple[str, ...], tuple[str, ...] | None]] = []

    def candidates(self, settings, behaviors=None, review_states=frozenset({ReviewState.approved, ReviewState.trusted})):  # type: ignore[no-untyped-def,override]
        self.asked.append((tuple(settings), None if behaviors is None else tuple(behaviors)))
        return super().candidates(settings, behaviors, review_states)


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RecordingStore]:
    home = tmp_path_factory.mktemp("paging-demo")
    with NormBankService(Settings(home=home, embed_on_ingest=False)) as svc:
        svc.load_demo(with_taxonomy=False)
        settings = [s.name for s in svc.list_settings(limit=500).items if s.norm_count]
    store = RecordingStore(home / "store")
    store.demo_settings = settings  # type: ignore[attr-defined]
    yield store
    store.close()


def walk(store: OxigraphStore, setting: str, facts: Sequence[str], limit: int, **kw: object) -> list[dict]:
    """Every page of a setting-only query, as JSON-ready dicts."""
    constraints = [c for f in facts for c in parse_frame(f)]
    pages, cursor = [], None
    while True:
        page = answer_query(store, setting, None, constraints, limit=limit, cursor=cursor, **kw)  # type: ignore[arg-type]
        pages.append(page.model_dump(mode="json"))
        cursor = page.next_cursor
        if cursor is None:
            return pages
        assert len(pages) < 1000, "pagination does not end"


def test_the_demo_bank_has_settings_with_norms(demo_store: RecordingStore) -> None:
    assert len(demo_store.demo_settings) >= 10  # type: ignore[attr-defined]


@pytest.mark.parametrize("limit", [1, 3, 50])
def test_paged_answers_equal_reading_every_norm_on_the_demo_bank(demo_store: RecordingStore, limit: int) -> None:
    for setting in demo_store.demo_settings:  # type: ignore[attr-defined]
        for facts in FACT_SETS:
            for states in (frozenset({ReviewState.approved, ReviewState.trusted}), frozenset(ReviewState)):
                paged = walk(demo_store, setting, facts, limit, review_states=states)
                reference = walk(demo_store, setting, facts, limit, review_states=states, read_every_norm=True)
                assert paged == reference, (setting, facts, limit)


def test_every_behaviour_appears_exactly_once_in_name_order(demo_store: RecordingStore) -> None:
    for setting in demo_store.demo_settings:  # type: ignore[attr-defined]
        whole = walk(demo_store, setting, [], 500)
        assert len(whole) == 1 and whole[0]["next_cursor"] is None
        expected = [r["behavior"] for r in whole[0]["results"]]
        assert expected == sorted(expected) and len(set(expected)) == len(expected)
        for limit in (1, 2, 7):
            pages = walk(demo_store, setting, [], limit)
            assert all(len(p["results"]) == limit for p in pages[:-1])
            assert 1 <= len(pages[-1]["results"]) <= limit or not expected
            assert [r["behavior"] for p in pages for r in p["results"]] == expected
            # every answer still carries its evidence
            for p in pages:
                for r in p["results"]:
                    assert r["label"] is None or r["norms"] or r["conditional"]


def test_a_page_reads_only_the_norms_of_its_behaviours(demo_store: RecordingStore) -> None:
    setting = max(demo_store.demo_settings, key=lambda s: len(walk(demo_store, s, [], 500)[0]["results"]))  # type: ignore[attr-defined]
    demo_store.asked.clear()
    page = answer_query(demo_store, setting, None, [], limit=2)
    assert page.next_cursor is not None
    (asked,) = demo_store.asked
    assert asked[1] is not None, "a page must not read every norm of the setting"
    # the labels asked for are those of the two behaviours on the page (aliases of them included)
    answered = {r.behavior for r in page.results}
    for label in asked[1]:
        bc = demo_store.find_concept(ConceptScheme.behavior, label)
        assert (bc.label.lower() if bc else label) in answered, label


def _bank(path: Path) -> OxigraphStore:
    """Aliases, spellings, a broader setting, norms without a behaviour, other review states."""
    prov = Provenance(source="test")
    store = OxigraphStore(path)
    store.upsert_concepts(
        [
            Concept(id=concept_id("setting", "restaurant"), scheme=ConceptScheme.setting, label="restaurant", provenance=prov),
            Concept(
                id=concept_id("setting", "diner"), scheme=ConceptScheme.setting, label="diner",
                broader=(concept_id("setting", "restaurant"),), provenance=prov,
            ),
            Concept(id=concept_id("behavior", "shout"), scheme=ConceptScheme.behavior, label="shout", alt_labels=("yell", "scream"), provenance=prov),
            # NormBank has "yell" as a concept of its own too
            Concept(id=concept_id("behavior", "yell"), scheme=ConceptScheme.behavior, label="yell", provenance=prov),
            # a concept whose id is not its label's: norms saying "holler" and norms saying its label are one result
            Concept(id=concept_id("behavior", "holler"), scheme=ConceptScheme.behavior, label="Holler across the room", provenance=prov),
        ]
    )
    rows = [
        ("1", "restaurant", "shout", "[PERSON]'s role is 'customer'", Label.unexpected, ReviewState.trusted),
        ("2", "restaurant", "Shout", "[PERSON]'s role is 'customer' [AND] [PERSON]'s age bracket is 'toddler'", Label.okay, ReviewState.trusted),
        ("3", "diner", "scream", "[PERSON]'s role is 'customer'", Label.okay, ReviewState.approved),
        ("4", "diner", "yell", "", Label.unexpected, ReviewState.trusted),
        ("5", "diner", None, "[PERSON]'s role is 'customer'", Label.expected, ReviewState.trusted),
        ("6", "restaurant", None, "", Label.unexpected, ReviewState.proposed),
        ("7", "diner", "eat", "", Label.expected, ReviewState.proposed),
        ("8", "diner", "tip", "[PERSON]'s role is 'customer'", Label.expected, ReviewState.trusted),
        ("9", "restaurant", "tip", "[PERSON]'s role is 'customer' [AND] country is 'japan'", Label.unexpected, ReviewState.trusted),
        ("10", "diner", "holler", "[PERSON]'s role is 'customer'", Label.unexpected, ReviewState.trusted),
        ("11", "diner", "Holler across the room", "[PERSON]'s role is 'customer' [AND] [PERSON]'s age bracket is 'toddler'", Label.okay, ReviewState.trusted),
    ]
    store.upsert_statements(
        [
            Norm(
                id=statement_id("n", "paging", row), text=f"norm {row}", setting=setting, behavior=behavior,
                constraints=tuple(parse_frame(frame)) if frame else (), label=label, review_state=state, provenance=prov,
            )
            for row, setting, behavior, frame, label, state in rows
        ]
    )
    return store


@pytest.mark.parametrize("setting", ["diner", "restaurant"])
def test_paged_answers_equal_reading_every_norm_with_aliases_and_missing_behaviours(tmp_path: Path, setting: str) -> None:
    store = _bank(tmp_path / "store")
    try:
        for facts in FACT_SETS:
            for states in (frozenset({ReviewState.approved, ReviewState.trusted}), frozenset(ReviewState)):
                for limit in (1, 2, 50):
                    paged = walk(store, setting, facts, limit, review_states=states)
                    assert paged == walk(store, setting, facts, limit, review_states=states, read_every_norm=True)
        names = [r["behavior"] for p in walk(store, setting, [], 50, review_states=frozenset(ReviewState)) for r in p["results"]]
        # Norms without a behaviour answer as "", first; spellings of a label answer under one name, and so
        # would aliases, but a norm's own label makes a concept of its own ("scream"), named before aliases.
        expected = {
            "diner": ["", "eat", "holler across the room", "scream", "shout", "tip", "yell"],
            "restaurant": ["", "shout", "tip"],
        }[setting]
        assert names == expected
    finally:
        store.close()
