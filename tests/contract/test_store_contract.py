"""The GraphStore contract: every backend behaves the same on these (tests/contract/conftest.py runs them per
backend). The last section holds Oxigraph-specific behaviour (RocksDB locking)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import rdflib
from rdflib.namespace import RDF, SKOS

from normgraph.errors import InvalidInput, NotFound, StoreError, StoreLocked
from normgraph.ids import concept_id, statement_id
from normgraph.models import (
    Concept,
    ConceptScheme,
    Constraint,
    Kind,
    Label,
    Norm,
    Provenance,
    ReviewState,
    RuleOfThumb,
    Subject,
    Valence,
    ValueRightDuty,
)
from normgraph.store import ANSWERING_STATES, GraphStore, UpsertResult, available_backends, open_store

NG = rdflib.Namespace("https://w3id.org/normgraph#")
PROV = rdflib.Namespace("http://www.w3.org/ns/prov#")
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


def prov(source: str = "normbank", row: str | None = "1", **kw: object) -> Provenance:
    return Provenance(source=source, source_row=row, created_at=kw.pop("created_at", T0), **kw)  # type: ignore[arg-type]


def c(subject: str, attribute: str, value: str, relation: str = "is") -> Constraint:
    return Constraint(subject=Subject(subject), attribute=attribute, relation=relation, value=value)


def norm(
    row: str,
    setting: str = "restaurant",
    behavior: str = "shout",
    label: Label = Label.unexpected,
    constraints: tuple[Constraint, ...] = (),
    state: ReviewState = ReviewState.trusted,
    **kw: object,
) -> Norm:
    return Norm(
        id=statement_id("n", "test", row),
        text=f"norm {row}: {behavior} in a {setting} is {label.value}",
        setting=setting,
        behavior=behavior,
        label=label,
        constraints=constraints,
        review_state=state,
        provenance=prov(row=row),
        **kw,  # type: ignore[arg-type]
    )


def concept(scheme: ConceptScheme, label: str, **kw: object) -> Concept:
    return Concept(
        id=concept_id(scheme.value, label, kw.pop("attr_for_id", None)),  # type: ignore[arg-type]
        scheme=scheme,
        label=label,
        provenance=prov(source="taxonomy", row=None),
        **kw,  # type: ignore[arg-type]
    )


def full_statements() -> list[Norm | RuleOfThumb | ValueRightDuty]:
    """One statement of each kind with every field set to a non-default value, including awkward text."""
    full_prov = Provenance(
        source="normbank",
        source_row="42",
        source_file="NormBank.csv",
        licence="CC BY-SA 4.0",
        agreement=0.75,
        generated_by="smollm2-135m",
        reviewer="ada",
        created_at=T0,
        inferred={"moral_foundations": "MFD 2.0 lexicon match: care (hurt)"},
    )
    n = Norm(
        id="n-weird id/é%20",
        kind=Kind.norm,
        text='In a "restaurant", a toddler\ncustomer \\ shouting is okay — 😀',
        setting="restaurant",
        behavior="shout",
        situation="a family dinner",
        country="us",
        review_state=ReviewState.approved,
        provenance=full_prov,
        label=Label.okay,
        constraints=(
            c("person", "role", "customer"),
            c("person", "age bracket", "toddler", "<="),
            c("other", "role", "chef", "is not"),
            c("environment", "time of day", "night", ">="),
        ),
        split="dev",
        moral_foundations=("care-harm",),
    )
    rot = RuleOfThumb(
        id="rot-0000000000000001",
        kind=Kind.rule_of_thumb,
        text="It's rude to talk loudly on the phone in public.",
        setting="bus",
        behavior="talk loudly on the phone",
        situation="on a crowded bus",
        country="uk",
        review_state=ReviewState.proposed,
        provenance=full_prov.model_copy(update={"source": "social-chem-101"}),
        label=Label.unexpected,
        action="talking loudly on the phone",
        moral_foundations=("care-harm", "fairness-cheating"),
        judgments={"rot-agree": 4, "action-legal": "legal", "nested": {"a": [1, 2.5, None, True]}},
    )
    vrds: list[Norm | RuleOfThumb | ValueRightDuty] = [
        ValueRightDuty(
            id=f"{k.value[0]}-000000000000000{i}",
            kind=k,
            text=f"A {k.value} about rest.",
            setting="workplace",
            behavior="take a break",
            situation="after a long shift",
            country="de",
            review_state=ReviewState.rejected,
            provenance=full_prov.model_copy(update={"source": "udhr"}),
            valence=Valence.opposes,
            explanation=f"Why the {k.value} applies.",
        )
        for i, k in enumerate((Kind.value, Kind.right, Kind.duty))
    ]
    return [n, rot, *vrds]


def rdf_graph(store: GraphStore, fmt: str = "ntriples") -> rdflib.Graph:
    buf = io.BytesIO()
    store.export(fmt, buf)  # type: ignore[arg-type]
    g = rdflib.Graph()
    g.parse(data=buf.getvalue(), format={"ntriples": "nt", "turtle": "turtle", "jsonld": "json-ld"}[fmt])
    return g


def statement_node(g: rdflib.Graph, sid: str) -> rdflib.term.Node:
    nodes = list(g.subjects(rdflib.URIRef("http://purl.org/dc/terms/identifier"), rdflib.Literal(sid)))
    assert len(nodes) == 1, f"{sid}: {nodes}"
    return nodes[0]


# --- protocol & registry ---------------------------------------------------------------------------------------


def test_store_implements_the_protocol(store: GraphStore) -> None:
    assert isinstance(store, GraphStore)
    assert store.read_only is False
    assert store.name in available_backends()


def test_open_store_rejects_unknown_backend_naming_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as e:
        open_store("nosuchdb", tmp_path / "x")
    assert "nosuchdb" in e.value.message and "oxigraph" in e.value.message
    assert e.value.details["known"] == available_backends()


# --- statements --------------------------------------------------------------------------------------------------


def test_upsert_then_get_round_trips_every_field_of_every_kind(store: GraphStore) -> None:
    items = full_statements()
    for st in items:  # the fixture really sets every field, so a dropped field would show
        assert set(type(st).model_fields) - {"kind"} <= st.model_fields_set, type(st).__name__
    assert store.upsert_statements(items) == UpsertResult(inserted=len(items))
    for st in items:
        got = store.get_statement(st.id)
        assert got is not None, st.id
        assert type(got) is type(st)
        assert got.model_dump() == st.model_dump()
    assert store.get_statement("n-does-not-exist") is None


def test_reupsert_identical_is_unchanged_and_writes_nothing(store: GraphStore) -> None:
    items = [norm(str(i), constraints=(c("person", "role", f"r{i}"),)) for i in range(20)]
    assert store.upsert_statements(items) == UpsertResult(inserted=20)
    before = store.stats()
    before_triples = set(rdf_graph(store))
    assert store.upsert_statements(items) == UpsertResult(unchanged=20)
    # Re-ingesting the same rows later gives new timestamps: still unchanged, and the first timestamp stays.
    later = [
        st.model_copy(update={"provenance": st.provenance.model_copy(update={"created_at": T0 + timedelta(days=3)})})
        for st in items
    ]
    assert store.upsert_statements(later) == UpsertResult(unchanged=20)
    assert store.get_statement(items[0].id).provenance.created_at == T0  # type: ignore[union-attr]
    assert store.stats() == before
    assert set(rdf_graph(store)) == before_triples


def test_changed_content_is_updated_and_old_constraints_are_gone(store: GraphStore) -> None:
    old = norm("1", constraints=(c("person", "role", "customer"), c("person", "age bracket", "teen")))
    keep = norm("2", constraints=(c("person", "role", "customer"),))
    store.upsert_statements([old, keep])
    new = old.model_copy(update={"label": Label.okay, "constraints": (c("person", "role", "waiter"),)})
    assert store.upsert_statements([new]) == UpsertResult(updated=1)
    got = store.get_statement(old.id)
    assert got is not None and got.label is Label.okay and got.constraints == new.constraints

    g = rdf_graph(store)
    node = statement_node(g, old.id)
    values = {str(g.value(cn, NG.value)) for cn in g.objects(node, NG.constraint)}
    assert values == {"waiter"}
    assert list(g.objects(node, NG.label)) == [NG.okay]
    # the constraint nobody states any more is gone from the graph; the shared one stays for norm 2
    assert (None, NG.value, rdflib.Literal("teen")) not in g
    keep_node = statement_node(g, keep.id)
    assert {str(g.value(cn, NG.value)) for cn in g.objects(keep_node, NG.constraint)} == {"customer"}


def test_counts_follow_the_order_within_one_batch(store: GraphStore) -> None:
    a = norm("1")
    b = a.model_copy(update={"label": Label.okay})
    assert store.upsert_statements([a, a, b]) == UpsertResult(inserted=1, unchanged=1, updated=1)
    assert store.get_statement(a.id).label is Label.okay  # type: ignore[union-attr]
    assert store.upsert_statements([b, a, b]) == UpsertResult(unchanged=1, updated=2)
    assert store.get_statement(a.id).label is Label.okay  # type: ignore[union-attr]


def test_ingest_sized_batches_keep_the_same_semantics(store: GraphStore) -> None:
    """Batches of thousands take the stores' bulk paths; counting, replacing and reading must not change."""
    roles = [f"role {i}" for i in range(40)]
    first = [
        norm(str(i), f"setting {i % 7}", f"behaviour {i % 13}", constraints=(c("person", "role", roles[i % 40]),))
        for i in range(1500)
    ]
    assert store.upsert_statements(first[:1000]) == UpsertResult(inserted=1000)
    assert store.existing_ids([n.id for n in first]) == {n.id for n in first[:1000]}
    changed = [n.model_copy(update={"label": Label.okay}) for n in first[500:1000]]
    assert store.upsert_statements(first[:500] + changed + first[1000:]) == UpsertResult(
        inserted=500, updated=500, unchanged=500
    )
    assert store.existing_ids([n.id for n in first] + ["n-nope"]) == {n.id for n in first}
    assert store.get_statement(first[700].id).label is Label.okay  # type: ignore[union-attr]
    assert store.get_statement(first[1400].id) == first[1400]
    assert store.stats().by_label == {"okay": 500, "unexpected": 1000}
    expected = sorted(n.id for n in first if n.setting == "setting 3" and n.behavior == "behaviour 5")
    assert [n.id for n in store.candidates(["setting 3"], ["behaviour 5"])] == expected
    assert store.upsert_statements([first[0]]) == UpsertResult(unchanged=1)


def test_upsert_rejects_what_is_not_a_statement(store: GraphStore) -> None:
    with pytest.raises(InvalidInput):
        store.upsert_statements([concept(ConceptScheme.setting, "bar")])  # type: ignore[list-item]
    with pytest.raises(InvalidInput):
        store.upsert_concepts([norm("1")])  # type: ignore[list-item]
    assert store.upsert_statements([]) == UpsertResult()


def test_existing_ids(store: GraphStore) -> None:
    items = [norm(str(i)) for i in range(5)]
    store.upsert_statements(items[:3])
    assert store.existing_ids([st.id for st in items]) == {st.id for st in items[:3]}
    assert store.existing_ids([]) == set()


def test_iter_statements_in_id_order_and_by_kind(store: GraphStore) -> None:
    items = full_statements() + [norm(str(i)) for i in range(5)]
    store.upsert_statements(items)
    assert [st.id for st in store.iter_statements()] == sorted(st.id for st in items)
    assert [st.id for st in store.iter_statements([Kind.right, Kind.duty])] == sorted(
        st.id for st in items if st.kind in (Kind.right, Kind.duty)
    )
    assert all(isinstance(st, Norm) for st in store.iter_statements([Kind.norm]))


# --- candidates ----------------------------------------------------------------------------------------------------


def test_candidates_by_setting_behaviour_and_review_state(store: GraphStore) -> None:
    r1 = norm("1", "restaurant", "shout")
    r2 = norm("2", "restaurant", "shout", Label.okay, (c("person", "age bracket", "toddler"),))
    r3 = norm("3", "restaurant", "eat")
    r4 = norm("4", "restaurant", "shout", state=ReviewState.proposed)
    r5 = norm("5", "restaurant", "shout", state=ReviewState.approved)
    d1 = norm("6", "diner", "shout")
    l1 = norm("7", "library", "shout")
    rot = RuleOfThumb(
        id="rot-1", text="Don't shout in restaurants.", setting="restaurant", behavior="shout", provenance=prov()
    )
    store.upsert_statements([r1, r2, r3, r4, r5, d1, l1, rot])

    def ids(norms: list[Norm]) -> list[str]:
        assert all(isinstance(n, Norm) for n in norms)
        return [n.id for n in norms]

    assert ids(store.candidates(["restaurant"])) == sorted(n.id for n in (r1, r2, r3, r5))
    assert ids(store.candidates(["restaurant"], ["shout"])) == sorted(n.id for n in (r1, r2, r5))
    assert ids(store.candidates(["restaurant", "diner"], ["shout"])) == sorted(n.id for n in (r1, r2, r5, d1))
    assert ids(store.candidates(["restaurant"], ["shout", "eat"])) == sorted(n.id for n in (r1, r2, r3, r5))
    assert ids(store.candidates(["restaurant"], ["shout"], frozenset({ReviewState.proposed}))) == [r4.id]
    assert ids(store.candidates(["restaurant"], ["shout"], frozenset(ReviewState))) == sorted(
        n.id for n in (r1, r2, r4, r5)
    )
    assert store.candidates(["nowhere"]) == []
    assert store.candidates([]) == []
    assert store.candidates(["restaurant"], []) == []
    # labels are matched by their normalised form
    assert ids(store.candidates(["  Restaurant "], ["SHOUT"])) == ids(store.candidates(["restaurant"], ["shout"]))
    got = store.candidates(["restaurant"], ["shout"])
    assert got[1].model_dump() == r2.model_dump()


def test_candidates_see_writes_and_callers_cannot_corrupt_them(store: GraphStore) -> None:
    store.upsert_statements([norm("1")])
    first = store.candidates(["restaurant"], ["shout"])
    assert len(first) == 1
    first.clear()  # a caller mutating its list must not change what the next caller gets
    assert len(store.candidates(["restaurant"], ["shout"])) == 1
    store.upsert_statements([norm("2")])
    assert len(store.candidates(["restaurant"], ["shout"])) == 2
    store.set_review_state(norm("2").id, ReviewState.rejected)
    assert [n.id for n in store.candidates(["restaurant"], ["shout"])] == [norm("1").id]


def test_behavior_counts_by_setting_kind_and_review_state(store: GraphStore) -> None:
    store.upsert_statements(
        [
            norm("1", "restaurant", "shout"),
            norm("2", "restaurant", "shout", Label.okay),
            norm("3", "restaurant", "eat"),
            norm("4", "restaurant", "pay", state=ReviewState.proposed),
            norm("5", "restaurant", "eat", state=ReviewState.approved),
            norm("6", "diner", "shout"),
            norm("7", "diner", "wave"),
            norm("8", "library", "whisper"),
            norm("9", "restaurant", None),  # type: ignore[arg-type]
            RuleOfThumb(id="rot-1", text="Tip your server.", setting="restaurant", behavior="tip", provenance=prov()),
        ]
    )
    counts = store.behavior_counts(["restaurant"])
    assert counts == {None: 1, "eat": 2, "shout": 2}
    assert list(counts) == [None, "eat", "shout"]  # None first, then label order
    assert store.behavior_counts(["restaurant", "diner"]) == {None: 1, "eat": 2, "shout": 3, "wave": 1}
    assert store.behavior_counts(["restaurant"], frozenset({ReviewState.proposed})) == {"pay": 1}
    assert store.behavior_counts(["restaurant"], frozenset(ReviewState)) == {None: 1, "eat": 2, "pay": 1, "shout": 2}
    assert store.behavior_counts(["  Restaurant "]) == counts
    assert store.behavior_counts(["nowhere"]) == {}
    assert store.behavior_counts([]) == {}
    assert store.behavior_counts(["restaurant"], frozenset()) == {}
    with pytest.raises(InvalidInput):
        store.behavior_counts("restaurant")  # type: ignore[arg-type]


def test_behavior_counts_labels_give_back_exactly_the_norms_counted(store: GraphStore) -> None:
    # A behaviour written two ways is one behaviour; a concept whose preferred label is not the one the norms
    # use (the id came from another label) must still give a label that finds them.
    store.upsert_concepts([
        Concept(
            id=concept_id("behavior", "holler"), scheme=ConceptScheme.behavior, label="Holler across the room",
            provenance=prov(source="taxonomy", row=None),
        )
    ])
    store.upsert_statements(
        [
            norm("1", "restaurant", "Shout"),
            norm("2", "restaurant", "shout"),
            norm("3", "restaurant", "holler"),
            norm("4", "diner", "shout", state=ReviewState.proposed),
            norm("5", "restaurant", None),  # type: ignore[arg-type]
        ]
    )
    for settings in (["restaurant"], ["restaurant", "diner"]):
        for states in (ANSWERING_STATES, frozenset(ReviewState)):
            counts = store.behavior_counts(settings, states)
            assert sum(counts.values()) == len(store.candidates(settings, None, states))
            seen: set[str] = set()
            for label, n in counts.items():
                got = (
                    [x for x in store.candidates(settings, None, states) if x.behavior is None]
                    if label is None
                    else store.candidates(settings, [label], states)
                )
                assert len(got) == n, (label, settings, states)
                assert not seen & {x.id for x in got}
                seen |= {x.id for x in got}
    assert len(store.behavior_counts(["restaurant"])) == 3  # None, holler, shout/Shout


def test_behavior_counts_see_writes(store: GraphStore) -> None:
    store.upsert_statements([norm("1"), norm("2", behavior="eat")])
    assert store.behavior_counts(["restaurant"]) == {"eat": 1, "shout": 1}
    store.upsert_statements([norm("3")])
    assert store.behavior_counts(["restaurant"]) == {"eat": 1, "shout": 2}
    store.set_review_state(norm("2", behavior="eat").id, ReviewState.rejected)
    assert store.behavior_counts(["restaurant"]) == {"shout": 2}
    store.delete_statements([norm("1").id, norm("3").id])
    assert store.behavior_counts(["restaurant"]) == {}


def test_warm_loads_without_changing_answers(open_backend) -> None:  # type: ignore[no-untyped-def]
    store = open_backend()
    store.upsert_concepts([concept(ConceptScheme.setting, "restaurant"), concept(ConceptScheme.behavior, "shout", alt_labels=("yell",))])
    store.upsert_statements([norm("1")])
    store.warm()
    assert store.find_concept(ConceptScheme.behavior, "yell").label == "shout"  # type: ignore[union-attr]
    store.close()
    reader = open_backend(read_only=True)
    reader.warm()  # reads only: fine on a read-only store
    assert reader.find_concept(ConceptScheme.setting, "Restaurant").id == concept_id("setting", "restaurant")  # type: ignore[union-attr]
    assert [n.id for n in reader.candidates(["restaurant"], ["shout"])] == [norm("1").id]


def test_set_review_state_and_not_found(store: GraphStore) -> None:
    n = norm("1", state=ReviewState.proposed)
    store.upsert_statements([n])
    assert store.candidates(["restaurant"], ["shout"], ANSWERING_STATES) == []
    updated = store.set_review_state(n.id, ReviewState.approved, reviewer="grace")
    assert updated.review_state is ReviewState.approved and updated.provenance.reviewer == "grace"
    got = store.get_statement(n.id)
    assert got is not None and got.review_state is ReviewState.approved and got.provenance.reviewer == "grace"
    assert got.text == n.text and got.constraints == n.constraints  # type: ignore[union-attr]
    assert [x.id for x in store.candidates(["restaurant"], ["shout"])] == [n.id]
    with pytest.raises(NotFound) as e:
        store.set_review_state("n-missing", ReviewState.approved)
    assert "n-missing" in e.value.message


def test_delete_statements_removes_them_and_only_orphaned_constraints(store: GraphStore) -> None:
    gone = norm("1", constraints=(c("person", "role", "customer"), c("person", "age bracket", "teen")))
    keep = norm("2", constraints=(c("person", "role", "customer"),))
    items = [gone, keep, *full_statements()]
    store.upsert_statements(items)
    rot = next(s for s in items if s.kind is Kind.rule_of_thumb)
    shouting = {n.id for n in store.candidates(["restaurant"], ["shout"])}
    assert gone.id in shouting and store.stats().statements == len(items)
    # a large batch first, so a store that keeps a set of stored ids must keep it right through the delete
    store.existing_ids([f"n-{i}" for i in range(600)])

    assert store.delete_statements([gone.id, rot.id, "n-never-stored", gone.id]) == 2
    assert store.get_statement(gone.id) is None and store.get_statement(rot.id) is None
    assert store.existing_ids([gone.id, keep.id, rot.id]) == {keep.id}
    assert [s.id for s in store.iter_statements()] == sorted(s.id for s in items if s.id not in {gone.id, rot.id})
    assert {n.id for n in store.candidates(["restaurant"], ["shout"])} == shouting - {gone.id}  # the cache saw it
    stats = store.stats()
    assert stats.statements == len(items) - 2
    assert stats.by_kind.get("rule_of_thumb", 0) == 0

    g = rdf_graph(store)
    assert not list(g.subjects(rdflib.URIRef("http://purl.org/dc/terms/identifier"), rdflib.Literal(gone.id)))
    assert (None, NG.value, rdflib.Literal("teen")) not in g  # nobody states it any more
    keep_node = statement_node(g, keep.id)
    assert {str(g.value(cn, NG.value)) for cn in g.objects(keep_node, NG.constraint)} == {"customer"}
    assert store.get_concept("setting/restaurant") is not None  # concepts are not the statements' to delete

    assert store.delete_statements([]) == 0 and store.delete_statements(["n-never-stored"]) == 0
    # a deleted statement can come back, as new
    assert store.upsert_statements([gone]) == UpsertResult(inserted=1)
    assert store.get_statement(gone.id) == gone
    assert {n.id for n in store.candidates(["restaurant"], ["shout"])} == shouting


def test_delete_statements_needs_a_writable_store(open_backend) -> None:  # type: ignore[no-untyped-def]
    s = open_backend()
    s.upsert_statements([norm("1")])
    s.close()
    ro = open_backend(read_only=True)
    with pytest.raises(StoreError):
        ro.delete_statements([norm("1").id])
    assert ro.get_statement(norm("1").id) is not None


# --- concepts ------------------------------------------------------------------------------------------------------


def test_statements_create_minimal_concepts_without_clobbering(store: GraphStore) -> None:
    existing = concept(
        ConceptScheme.setting, "restaurant", alt_labels=("eatery",), definition="A place to eat.", broader=("setting/venue",)
    )
    store.upsert_concepts([existing])
    store.upsert_statements([norm("1", "restaurant", "shout", constraints=(c("environment", "time of day", "night"),))])
    assert store.get_concept("setting/restaurant").model_dump() == existing.model_dump()  # type: ignore[union-attr]
    beh = store.get_concept("behavior/shout")
    assert beh is not None and beh.scheme is ConceptScheme.behavior and beh.label == "shout"
    attr = store.get_concept("attribute/time-of-day")
    assert attr is not None and attr.subject is Subject.environment
    assert store.find_concept(ConceptScheme.behavior, "Shout") == beh


def test_concept_merge_semantics(store: GraphStore) -> None:
    first = concept(ConceptScheme.setting, "diner", alt_labels=("eatery",), broader=("setting/restaurant",))
    assert store.upsert_concepts([first]) == UpsertResult(inserted=1)
    assert store.upsert_concepts([first]) == UpsertResult(unchanged=1)
    second = Concept(
        id=first.id,
        scheme=ConceptScheme.setting,
        label="Diner Restaurant",
        alt_labels=("eatery", "greasy spoon"),
        broader=("setting/restaurant", "setting/food-place"),
        related_settings=("setting/highway",),
        definition="A small cheap restaurant.",
        provenance=prov(source="other"),
    )
    assert store.upsert_concepts([second]) == UpsertResult(updated=1)
    got = store.get_concept(first.id)
    assert got is not None
    assert got.label == "diner"  # the existing preferred label is kept …
    assert got.alt_labels == ("eatery", "greasy spoon", "Diner Restaurant")  # … the new one becomes an alias
    assert got.broader == ("setting/restaurant", "setting/food-place")
    assert got.related_settings == ("setting/highway",)
    assert got.definition == "A small cheap restaurant."
    assert got.provenance.source == "taxonomy"
    assert store.upsert_concepts([second]) == UpsertResult(unchanged=1)
    got.label = "changed by a caller"  # a caller's copy, not the store's
    assert store.get_concept(first.id).label == "diner"  # type: ignore[union-attr]
    with pytest.raises(InvalidInput):
        store.upsert_concepts([Concept(id=first.id, scheme=ConceptScheme.role, label="diner", provenance=prov())])


def test_concepts_by_scheme_and_related_setting(store: GraphStore) -> None:
    store.upsert_concepts(
        [
            concept(ConceptScheme.role, "waiter", related_settings=("setting/restaurant",)),
            concept(ConceptScheme.role, "customer", related_settings=("setting/restaurant", "setting/shop")),
            concept(ConceptScheme.role, "librarian", related_settings=("setting/library",)),
            concept(ConceptScheme.item, "menu", related_settings=("setting/restaurant",)),
            concept(ConceptScheme.attribute_value, "teen", attribute="age bracket", attr_for_id="age bracket"),
        ]
    )
    assert [x.label for x in store.concepts(ConceptScheme.role)] == ["customer", "librarian", "waiter"]
    assert [x.label for x in store.concepts(ConceptScheme.role, related_setting="setting/restaurant")] == [
        "customer",
        "waiter",
    ]
    assert [x.label for x in store.concepts(ConceptScheme.item, "setting/restaurant")] == ["menu"]
    (teen,) = store.concepts(ConceptScheme.attribute_value)
    assert teen.id == "attribute_value/age-bracket/teen" and teen.attribute == "age bracket"
    assert store.concepts(ConceptScheme.schwartz_value) == []


def test_find_concept_by_label_or_alias_ignoring_case_and_spaces(store: GraphStore) -> None:
    store.upsert_concepts(
        [
            concept(ConceptScheme.setting, "restaurant", alt_labels=("Eating  Place",)),
            concept(ConceptScheme.setting, "diner", alt_labels=("restaurant",)),  # clashes with a prefLabel
            concept(ConceptScheme.role, "eating place"),
        ]
    )
    assert store.find_concept(ConceptScheme.setting, "  RESTAURANT ").id == "setting/restaurant"  # type: ignore[union-attr]
    assert store.find_concept(ConceptScheme.setting, "eating place").id == "setting/restaurant"  # type: ignore[union-attr]
    assert store.find_concept(ConceptScheme.role, "Eating Place").id == "role/eating-place"  # type: ignore[union-attr]
    assert store.find_concept(ConceptScheme.setting, "Diner").id == "setting/diner"  # type: ignore[union-attr]
    assert store.find_concept(ConceptScheme.setting, "bistro") is None
    # the label index follows writes
    store.upsert_concepts([concept(ConceptScheme.setting, "diner", alt_labels=("bistro",))])
    assert store.find_concept(ConceptScheme.setting, "Bistro").id == "setting/diner"  # type: ignore[union-attr]
    # every concept a label names: the preferred-label owner first, then those with it as an alias
    assert [c.id for c in store.find_concepts(ConceptScheme.setting, "Restaurant")] == [
        "setting/restaurant",
        "setting/diner",
    ]
    assert [c.id for c in store.find_concepts(ConceptScheme.setting, "bistro")] == ["setting/diner"]
    assert store.find_concepts(ConceptScheme.setting, "nowhere") == []


def test_situations_are_shared_nodes_and_linked_statements_reach_them(store: GraphStore) -> None:
    from normgraph.situations import situation_id

    text = "Lying to my friend about her cooking"
    a = norm("1", situation=text)
    b = norm("2", behavior="tell white lies", situation="lying to my  friend about her cooking.")
    other = norm("3", situation="something else entirely")
    store.upsert_statements([a, b, other])
    sid = situation_id(text)
    node = store.get_concept(sid)
    assert node is not None and node.scheme is ConceptScheme.situation and node.label == text
    # Two spellings, one node; each statement keeps its own text.
    assert [s.id for s in store.linked_statements(sid)] == sorted([a.id, b.id])
    assert store.get_statement(b.id).situation == "lying to my  friend about her cooking."  # type: ignore[union-attr]
    assert store.count_linked(sid) == 2
    assert [s.id for s in store.linked_statements(sid, limit=1)] == sorted([a.id, b.id])[:1]
    # Behaviours and settings are reached the same way.
    assert {s.id for s in store.linked_statements("behavior/tell-white-lies")} == {b.id}
    assert store.count_linked("setting/restaurant") == 3
    assert store.linked_statements("situation/nobody-wrote-this") == [] and store.count_linked("x/y") == 0
    # A label that only its id derives from (punctuation) still finds the node.
    assert store.find_concept(ConceptScheme.behavior, "Tell white lies!").id == "behavior/tell-white-lies"  # type: ignore[union-attr]
    assert store.find_concept(ConceptScheme.setting, "tell white lies") is None
    g = rdf_graph(store)
    from normgraph.ontology import CONCEPT_NS

    assert (statement_node(g, a.id), NG.inSituation, rdflib.URIRef(CONCEPT_NS + sid)) in g


def test_broader_closure_nearest_first_and_cycles_cut(store: GraphStore) -> None:
    s = ConceptScheme.setting
    store.upsert_concepts(
        [
            concept(s, "diner", broader=("setting/restaurant", "setting/roadside")),
            concept(s, "restaurant", broader=("setting/food-place",)),
            concept(s, "roadside", broader=("setting/food-place",)),
            concept(s, "food place", broader=("setting/public-place",)),
            concept(s, "a", broader=("setting/b",)),
            concept(s, "b", broader=("setting/c",)),
            concept(s, "c", broader=("setting/a",)),
        ]
    )
    closure = store.broader_closure("setting/diner")
    assert closure[0] == "setting/diner"
    assert set(closure[1:3]) == {"setting/restaurant", "setting/roadside"}
    assert closure[3:] == ["setting/food-place", "setting/public-place"]
    assert store.broader_closure("setting/a") == ["setting/a", "setting/b", "setting/c"]
    assert store.broader_closure("setting/c") == ["setting/c", "setting/a", "setting/b"]
    assert store.broader_closure("setting/unknown") == ["setting/unknown"]
    store.upsert_concepts([concept(s, "public place", broader=("setting/anywhere",))])
    assert store.broader_closure("setting/diner")[-1] == "setting/anywhere"


# --- stats and export ----------------------------------------------------------------------------------------------


def test_stats_and_counts_by_setting(store: GraphStore) -> None:
    empty = store.stats()
    assert empty.statements == 0 and empty.by_kind == {} and empty.concepts == {}
    items = full_statements() + [
        norm("1", "restaurant", "shout", Label.okay),
        norm("2", "restaurant", "eat", Label.expected),
        norm("3", "library", "shout", Label.unexpected),
    ]
    store.upsert_statements(items)
    store.upsert_concepts([concept(ConceptScheme.role, "waiter"), concept(ConceptScheme.role, "chef")])
    st = store.stats()
    assert st.statements == 8
    assert st.by_kind == {"duty": 1, "norm": 4, "right": 1, "rule_of_thumb": 1, "value": 1}
    assert st.by_source == {"normbank": 4, "social-chem-101": 1, "udhr": 3}
    assert st.by_setting == {"bus": 1, "library": 1, "restaurant": 3, "workplace": 3}
    assert st.by_label == {"expected": 1, "okay": 2, "unexpected": 2}
    assert st.concepts["role"] == 2
    assert st.concepts["setting"] == 4  # created for the statements' settings
    assert store.norm_counts_by_setting() == st.by_setting
    store.upsert_statements([norm("4", "library", "read", Label.okay)])
    assert store.stats().by_setting["library"] == 2


@pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")  # inside rdflib's JSON-LD parser
@pytest.mark.parametrize("fmt", ["turtle", "ntriples", "jsonld"])
def test_export_parses_back_with_every_statement(store: GraphStore, fmt: str) -> None:
    items = full_statements() + [
        norm(str(i), constraints=(c("person", "role", "customer"), c("person", "age bracket", "teen")))
        for i in range(6)
    ]
    store.upsert_statements(items)
    store.upsert_concepts([concept(ConceptScheme.setting, "diner", broader=("setting/restaurant",))])
    buf = io.BytesIO()
    store.export(fmt, buf)  # type: ignore[arg-type]
    raw = buf.getvalue()
    if fmt == "turtle":
        assert b"@prefix ng: <https://w3id.org/normgraph#>" in raw
    if fmt == "jsonld":
        assert json.loads(raw)["@context"]["ng"] == "https://w3id.org/normgraph#"
    g = rdf_graph(store, fmt)
    assert len(set(g.subjects(RDF.type, NG.Norm))) == 7
    assert len(set(g.subjects(RDF.type, NG.RuleOfThumb))) == 1
    assert {len(set(g.subjects(RDF.type, NG[k]))) for k in ("Value", "Right", "Duty")} == {1}
    assert not list(g.triples((None, NG.payload, None)))
    n = statement_node(g, items[0].id)
    assert str(g.value(n, NG.text)) == items[0].text
    src = g.value(n, PROV.wasDerivedFrom)
    assert str(g.value(src, NG.sourceDataset)) == "normbank"
    assert str(g.value(src, NG.sourceFile)) == "NormBank.csv"
    assert str(g.value(src, rdflib.URIRef("http://purl.org/dc/terms/license"))) == "CC BY-SA 4.0"
    assert str(g.value(n, NG.sourceRow)) == "42"
    assert len(list(g.objects(n, NG.constraint))) == 4
    assert (None, RDF.type, SKOS.ConceptScheme) in g
    diner = rdflib.URIRef("https://w3id.org/normgraph/concept/setting/diner")
    assert (diner, SKOS.broader, rdflib.URIRef("https://w3id.org/normgraph/concept/setting/restaurant")) in g
    assert (diner, SKOS.inScheme, NG.SettingScheme) in g


def test_export_rejects_unknown_format(store: GraphStore) -> None:
    with pytest.raises(InvalidInput) as e:
        store.export("rdfxml", io.BytesIO())  # type: ignore[arg-type]
    assert "turtle" in e.value.message


# --- persistence and read-only -------------------------------------------------------------------------------------


def test_reopen_after_close_keeps_everything(open_backend) -> None:  # type: ignore[no-untyped-def]
    s = open_backend()
    items = full_statements() + [norm(str(i), constraints=(c("person", "role", "customer"),)) for i in range(10)]
    s.upsert_statements(items)
    s.upsert_concepts([concept(ConceptScheme.setting, "diner", alt_labels=("eatery",), broader=("setting/restaurant",))])
    stats = s.stats()
    s.close()
    again = open_backend()
    assert again.stats() == stats
    assert [x.model_dump() for x in again.iter_statements()] == [
        x.model_dump() for x in sorted(items, key=lambda x: x.id)
    ]
    assert again.find_concept(ConceptScheme.setting, "eatery").id == "setting/diner"  # type: ignore[union-attr]
    assert again.broader_closure("setting/diner") == ["setting/diner", "setting/restaurant"]
    assert again.upsert_statements(items) == UpsertResult(unchanged=len(items))


def test_read_only_store_reads_but_rejects_writes(open_backend) -> None:  # type: ignore[no-untyped-def]
    s = open_backend()
    s.upsert_statements([norm("1")])
    s.close()
    ro = open_backend(read_only=True)
    assert ro.read_only is True
    assert [n.id for n in ro.candidates(["restaurant"], ["shout"])] == [norm("1").id]
    with pytest.raises(StoreError):
        ro.upsert_statements([norm("2")])
    with pytest.raises(StoreError):
        ro.upsert_concepts([concept(ConceptScheme.setting, "bar")])
    with pytest.raises(StoreError):
        ro.set_review_state(norm("1").id, ReviewState.rejected)
    assert ro.get_statement(norm("1").id).review_state is ReviewState.trusted  # type: ignore[union-attr]


def test_closed_store_refuses_use(store: GraphStore) -> None:
    store.close()
    with pytest.raises(StoreError):
        store.get_statement("n-1")
    store.close()  # closing twice is harmless


# --- Oxigraph specifics: RocksDB allows one writer -------------------------------------------------------------------


def test_oxigraph_second_writer_gets_store_locked_naming_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "store"
    first = open_store("oxigraph", path)
    try:
        first.upsert_statements([norm("1")])
        with pytest.raises(StoreLocked) as e:
            open_store("oxigraph", path)
        assert "read-only" in e.value.message and "stop the server" in e.value.message
        ro = open_store("oxigraph", path, read_only=True)  # readers are fine while a writer holds the lock
        assert ro.get_statement(norm("1").id) is not None
        ro.close()
    finally:
        first.close()


def test_oxigraph_store_held_by_another_process_is_locked(tmp_path: Path) -> None:
    path = tmp_path / "store"
    open_store("oxigraph", path).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys
                from normgraph.store import open_store
                s = open_store("oxigraph", {str(path)!r})
                print("ready", flush=True)
                sys.stdin.read()
                s.close()
                """
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with pytest.raises(StoreLocked):
            open_store("oxigraph", path)
    finally:
        holder.communicate("", timeout=30)
    open_store("oxigraph", path).close()  # released once the other process is done


def test_oxigraph_read_only_without_a_store_says_so(tmp_path: Path) -> None:
    with pytest.raises(StoreError) as e:
        open_store("oxigraph", tmp_path / "nothing-here", read_only=True)
    assert "no store" in e.value.message


def test_oxigraph_candidate_cache_is_bounded_by_norms_held() -> None:
    from normgraph.store.oxigraph import _Lru

    lru = _Lru(size=10, max_weight=100)
    for i in range(5):
        lru.put(i, f"v{i}", weight=30)
    assert lru.weight <= 100 and list(lru.data) == [2, 3, 4]
    assert lru.get(2) == "v2"  # now most recently used
    lru.put("big", "x", weight=60)
    assert list(lru.data) == [2, "big"] and lru.weight == 90
    lru.put(2, "again", weight=5)  # replacing an entry re-weighs it
    assert lru.weight == 65 and lru.get(2) == "again"
    lru.clear()
    assert lru.weight == 0 and lru.get("big") is None
