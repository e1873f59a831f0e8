"""Table-driven frame resolution (DESIGN §3), run twice: on the resolver alone, and through a real Oxigraph
store with ``answer_query`` (candidates, setting hierarchy and behaviour aliases come from the store)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from normgraph.errors import IncompatibleConstraints, InvalidInput, NotFound
from normgraph.frames.grammar import parse_frame
from normgraph.frames.logic import FactSet
from normgraph.frames.resolve import answer_query, resolve_behavior
from normgraph.ids import concept_id
from normgraph.models import Concept, ConceptScheme, Label, Norm, Provenance

E, O, U = Label.expected, Label.okay, Label.unexpected  # noqa: E741 - one letter per label keeps the table readable

# id, setting, behaviour, frame, label[, agreement]
BANK: list[tuple] = [
    ("R1", "restaurant", "shout", "[PERSON]'s role is 'customer'", U),
    ("R2", "restaurant", "shout", "[PERSON]'s role is 'customer' [AND] [PERSON]'s age bracket is 'toddler'", O),
    ("R3", "restaurant", "shout", "[PERSON]'s role is 'server' [AND] [PERSON]'s behavior is 'warn about a fire'", E),
    ("R4", "restaurant", "shout", "[PERSON]'s role is 'cook' [AND] noise is 'loud'", O),
    ("D1", "diner", "shout", "[PERSON]'s role is 'customer'", O),
    ("R5", "restaurant", "tip", "[PERSON]'s role is 'customer' [AND] country is 'united states'", E),
    ("R6", "restaurant", "tip", "[PERSON]'s role is 'customer' [AND] country is 'japan'", U),
    ("R7", "restaurant", "drink alcohol", "[PERSON]'s role is 'customer' [AND] [PERSON]'s age bracket is less than or equal to 'teen'", U),
    ("R8", "restaurant", "drink alcohol", "[PERSON]'s role is 'customer' [AND] [PERSON]'s age bracket is greater than or equal to 'young adult'", O),
    ("R9", "restaurant", "smoke", "", U),
    ("R10", "restaurant", "eat with hands", "[PERSON]'s role is 'customer' [AND] [OTHER]'s role is 'chef' [AND] event type is 'formal'", U),
    ("R11", "restaurant", "use phone", "[PERSON]'s role is 'customer'", O),
    ("R12", "restaurant", "use phone", "event type is 'formal'", U),
    ("R13", "restaurant", "run", "[PERSON]'s role is 'customer' [AND] [PERSON]'s age bracket is less than or equal to 'teen'", U),
    ("R14", "restaurant", "run", "[PERSON]'s role is 'customer' [AND] [PERSON]'s age bracket is 'toddler'", O),
    ("R15", "restaurant", "sing", "[PERSON]'s role is 'customer'", U, 0.9),
    ("R16", "restaurant", "sing", "[PERSON]'s role is 'customer'", O, 0.3),
    ("B1", "bus", "play music", "[PERSON]'s role is 'passenger' [AND] [PERSON]'s behavior is 'wear headphones'", O),
    ("B2", "bus", "play music", "[PERSON]'s role is 'passenger' [AND] [PERSON]'s behavior is not 'wear headphones'", U),
    ("H1", "hospital", "enter the operating room", "[PERSON]'s role is not 'surgeon'", U),
    ("H2", "hospital", "enter the operating room", "[PERSON]'s role is 'surgeon'", E),
    ("H3", "hospital", "bring flowers", "[PERSON]'s role is 'visitor' [AND] [OTHER]'s medical condition is 'allergies'", U),
    ("H4", "hospital", "bring flowers", "[PERSON]'s role is 'visitor'", E),
]
HIERARCHY = {"diner": "restaurant"}
ALIASES = {"shout": ["yell", "scream"]}


@dataclass
class Case:
    name: str
    setting: str
    behavior: str
    facts: list[str]
    label: Label | None
    basis: str
    norms: set[str] = field(default_factory=set)
    defeated: dict[str, set[str]] = field(default_factory=dict)
    conditional: set[str] = field(default_factory=set)
    conflict: bool = False
    distribution: dict[str, float] | None = None


CUSTOMER = "[PERSON]'s role is 'customer'"
TODDLER = "[PERSON]'s age bracket is 'toddler'"

CASES = [
    # The restaurant "shout" override.
    Case("shout: customer -> unexpected, toddler norm only conditional", "restaurant", "shout", [CUSTOMER], U, "applicable", {"R1"}, {}, {"R2"}),
    Case("shout: toddler customer -> okay, general norm defeated", "restaurant", "shout", [CUSTOMER, TODDLER], O, "applicable", {"R2"}, {"R1": {"R2"}}),
    Case("shout: teen customer -> toddler norm violated", "restaurant", "shout", [CUSTOMER, "[PERSON]'s age bracket is 'teen'"], U, "applicable", {"R1"}),
    Case("shout: alias 'yell' reaches 'shout'", "restaurant", "yell", [CUSTOMER, TODDLER], O, "applicable", {"R2"}, {"R1": {"R2"}}),
    Case("shout: server warning about a fire (also doing)", "restaurant", "shout", ["[PERSON]'s role is 'server'", "[PERSON]'s behavior is 'warn about a fire'"], E, "applicable", {"R3"}),
    Case("shout: server only -> conditional answer", "restaurant", "shout", ["[PERSON]'s role is 'server'"], E, "conditional", set(), {}, {"R3"}),
    Case("shout: cook in a loud kitchen (environment)", "restaurant", "shout", ["[PERSON]'s role is 'cook'", "noise is 'loud'"], O, "applicable", {"R4"}),
    Case("shout: cook when it is quiet -> nothing applies", "restaurant", "shout", ["[PERSON]'s role is 'cook'", "noise is 'quiet'"], None, "none"),
    Case("shout: no facts -> everything conditional", "restaurant", "shout", [], O, "conditional", set(), {}, {"R1", "R2", "R3", "R4"}),
    # Setting hierarchy: diner ⊑ restaurant.
    Case("diner: narrower setting overrides same frame", "diner", "shout", [CUSTOMER], O, "applicable", {"D1"}, {"R1": {"D1"}}, {"R2"}),
    Case("diner: toddler -> two okay norms, incomparable but agreeing", "diner", "shout", [CUSTOMER, TODDLER], O, "applicable", {"D1", "R2"}, {"R1": {"D1", "R2"}}),
    Case("diner inherits restaurant's unconditional smoke norm", "diner", "smoke", [], U, "applicable", {"R9"}),
    Case("restaurant's own smoke norm", "restaurant", "smoke", [CUSTOMER], U, "applicable", {"R9"}),
    # Country (environment).
    Case("tip: united states -> expected", "restaurant", "tip", [CUSTOMER, "country is 'united states'"], E, "applicable", {"R5"}),
    Case("tip: japan -> unexpected", "restaurant", "tip", [CUSTOMER, "country is 'japan'"], U, "applicable", {"R6"}),
    Case("tip: country unknown -> both conditional", "restaurant", "tip", [CUSTOMER], U, "conditional", set(), {}, {"R5", "R6"}, distribution={"expected": 0.5, "unexpected": 0.5}),
    Case("tip: another country -> nothing applies", "restaurant", "tip", [CUSTOMER, "country is 'france'"], None, "none"),
    # Ordinal relations.
    Case("alcohol: teen (<= teen)", "restaurant", "drink alcohol", [CUSTOMER, "[PERSON]'s age bracket is 'teen'"], U, "applicable", {"R7"}),
    Case("alcohol: young adult (>= young adult)", "restaurant", "drink alcohol", [CUSTOMER, "[PERSON]'s age bracket is 'young adult'"], O, "applicable", {"R8"}),
    Case("alcohol: senior citizen", "restaurant", "drink alcohol", [CUSTOMER, "[PERSON]'s age bracket is 'senior citizen'"], O, "applicable", {"R8"}),
    Case("alcohol: a range fact (<= gradeschooler) entails <= teen", "restaurant", "drink alcohol", [CUSTOMER, "[PERSON]'s age bracket is less than or equal to 'gradeschooler'"], U, "applicable", {"R7"}),
    Case("alcohol: a range fact (>= teen) decides neither", "restaurant", "drink alcohol", [CUSTOMER, "[PERSON]'s age bracket is greater than or equal to 'teen'"], U, "conditional", set(), {}, {"R7", "R8"}),
    Case("alcohol: strictly above teen", "restaurant", "drink alcohol", [CUSTOMER, "[PERSON]'s age bracket is greater than 'teen'"], O, "applicable", {"R8"}),
    Case("run: ordinal entailment makes toddler norm more specific than <= teen", "restaurant", "run", [CUSTOMER, TODDLER], O, "applicable", {"R14"}, {"R13": {"R14"}}),
    Case("run: gradeschooler only meets the <= teen norm", "restaurant", "run", [CUSTOMER, "[PERSON]'s age bracket is 'gradeschooler'"], U, "applicable", {"R13"}),
    # [OTHER] and environment.
    Case("eat with hands: chef present at a formal event", "restaurant", "eat with hands", [CUSTOMER, "[OTHER]'s role is 'chef'", "event type is 'formal'"], U, "applicable", {"R10"}),
    Case("eat with hands: the other person is a waiter", "restaurant", "eat with hands", [CUSTOMER, "[OTHER]'s role is 'waiter'", "event type is 'formal'"], None, "none"),
    Case("eat with hands: other person unknown -> conditional", "restaurant", "eat with hands", [CUSTOMER, "event type is 'formal'"], U, "conditional", set(), {}, {"R10"}),
    Case("flowers: [OTHER] with allergies overrides visitor norm", "hospital", "bring flowers", ["[PERSON]'s role is 'visitor'", "[OTHER]'s medical condition is 'allergies'"], U, "applicable", {"H3"}, {"H4": {"H3"}}),
    Case("flowers: visitor only -> expected, allergy norm conditional", "hospital", "bring flowers", ["[PERSON]'s role is 'visitor'"], E, "applicable", {"H4"}, {}, {"H3"}),
    # Conflicts between incomparable norms.
    Case("phone: customer at a formal event -> conflict", "restaurant", "use phone", [CUSTOMER, "event type is 'formal'"], U, "applicable", {"R11", "R12"}, conflict=True, distribution={"okay": 0.5, "unexpected": 0.5}),
    Case("phone: customer, event unknown -> no conflict, formal norm conditional", "restaurant", "use phone", [CUSTOMER], O, "applicable", {"R11"}, {}, {"R12"}),
    Case("sing: same frame, weighted by agreement", "restaurant", "sing", [CUSTOMER], U, "applicable", {"R15", "R16"}, conflict=True, distribution={"unexpected": 0.75, "okay": 0.25}),
    # Negation.
    Case("music: wearing headphones", "bus", "play music", ["[PERSON]'s role is 'passenger'", "[PERSON]'s behavior is 'wear headphones'"], O, "applicable", {"B1"}),
    Case("music: explicitly not wearing headphones", "bus", "play music", ["[PERSON]'s role is 'passenger'", "[PERSON]'s behavior is not 'wear headphones'"], U, "applicable", {"B2"}),
    Case("music: headphones unknown -> both conditional (no closed world)", "bus", "play music", ["[PERSON]'s role is 'passenger'"], U, "conditional", set(), {}, {"B1", "B2"}),
    Case("operating room: nurse satisfies 'role is not surgeon'", "hospital", "enter the operating room", ["[PERSON]'s role is 'nurse'"], U, "applicable", {"H1"}),
    Case("operating room: surgeon", "hospital", "enter the operating room", ["[PERSON]'s role is 'surgeon'"], E, "applicable", {"H2"}),
    Case("operating room: role unknown", "hospital", "enter the operating room", [], U, "conditional", set(), {}, {"H1", "H2"}),
]


def _norms() -> list[Norm]:
    out = []
    for row in BANK:
        nid, setting, behavior, frame, label, *agreement = row
        out.append(
            Norm(
                id=nid,
                text=f"{setting}/{behavior}: {frame or 'always'} -> {label.value}",
                setting=setting,
                behavior=behavior,
                constraints=parse_frame(frame),
                label=label,
                provenance=Provenance(source="test", source_row=nid, agreement=agreement[0] if agreement else None),
            )
        )
    return out


def _chain(setting: str) -> list[str]:
    chain = [setting]
    while chain[-1] in HIERARCHY:
        chain.append(HIERARCHY[chain[-1]])
    return chain


def _canonical(behavior: str) -> str:
    return next((b for b, alts in ALIASES.items() if behavior in alts), behavior)


def run_pure(case: Case):
    chain = _chain(case.setting)
    behavior = _canonical(case.behavior)
    norms = [n for n in _norms() if n.setting in chain and n.behavior == behavior]
    facts = FactSet([c for f in case.facts for c in parse_frame(f)])
    return resolve_behavior(behavior, norms, facts, {s: i for i, s in enumerate(chain)})


@pytest.fixture(scope="module")
def bank_store(tmp_path_factory):
    from normgraph.store import open_store

    store = open_store("oxigraph", tmp_path_factory.mktemp("resolution") / "store")
    prov = Provenance(source="test")
    concepts = [
        Concept(id=concept_id("setting", s), scheme=ConceptScheme.setting, label=s, provenance=prov)
        for s in {"restaurant", "diner", "bus", "hospital"}
    ]
    concepts.append(
        Concept(
            id=concept_id("setting", "diner"),
            scheme=ConceptScheme.setting,
            label="diner",
            broader=(concept_id("setting", "restaurant"),),
            provenance=prov,
        )
    )
    concepts += [
        Concept(id=concept_id("behavior", b), scheme=ConceptScheme.behavior, label=b, alt_labels=tuple(alts), provenance=prov)
        for b, alts in ALIASES.items()
    ]
    # A taxonomy may also have "yell" as a concept of its own (NormBank does): the alias must still reach "shout".
    concepts.append(Concept(id=concept_id("behavior", "yell"), scheme=ConceptScheme.behavior, label="yell", provenance=prov))
    store.upsert_concepts(concepts)
    store.upsert_statements(_norms())
    yield store
    store.close()


def run_store(case: Case, store):
    facts = [c for f in case.facts for c in parse_frame(f)]
    result = answer_query(store, case.setting, case.behavior, facts)
    assert len(result.results) == 1, result
    return result.results[0]


@pytest.mark.parametrize("engine", ["pure", "store"])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_resolution(case: Case, engine: str, request):
    r = run_pure(case) if engine == "pure" else run_store(case, request.getfixturevalue("bank_store"))
    assert r.label == case.label
    assert r.basis == case.basis
    assert {n.id for n in r.norms} == case.norms
    assert {d.id: set(d.defeated_by) for d in r.defeated} == case.defeated
    assert {c.id for c in r.conditional} == case.conditional
    assert r.conflict is case.conflict
    if case.distribution is not None:
        assert r.distribution == case.distribution
    # Every answer carries evidence: a label never comes without the norms that decided it.
    if r.label is not None:
        assert r.norms or r.conditional
    for c in r.conditional:
        assert c.unknown, "a conditional norm lists what it is waiting for"


def test_there_are_at_least_thirty_cases():
    assert len(CASES) >= 30


def test_conditional_confidence_is_discounted():
    conditional = run_pure(next(c for c in CASES if c.name.startswith("shout: server only")))
    applicable = run_pure(next(c for c in CASES if c.name.startswith("shout: server warning")))
    assert applicable.confidence == 1.0
    assert 0 < conditional.confidence < applicable.confidence


def test_unknown_constraints_are_listed_by_name():
    r = run_pure(CASES[0])
    (cond,) = r.conditional
    assert cond.unknown == ["[PERSON]'s age bracket is 'toddler'"]


def test_incompatible_facts_name_both(bank_store):
    with pytest.raises(IncompatibleConstraints) as e:
        answer_query(bank_store, "restaurant", "shout", parse_frame("[PERSON]'s gender is 'man' [AND] [PERSON]'s gender is 'woman'"))
    assert "gender is 'man'" in e.value.message and "gender is 'woman'" in e.value.message


def test_unknown_setting_and_bad_ordinal_fact(bank_store):
    with pytest.raises(NotFound):
        answer_query(bank_store, "moon base", None, [])
    with pytest.raises(InvalidInput):
        answer_query(bank_store, "restaurant", None, parse_frame("[PERSON]'s age bracket is 'ancient'"))
    with pytest.raises(InvalidInput):
        answer_query(bank_store, "restaurant", None, parse_frame("noise is less than 'loud'"))


def test_pagination_walks_every_behaviour_once(bank_store):
    seen, cursor = [], None
    while True:
        page = answer_query(bank_store, "restaurant", None, [], limit=2, cursor=cursor)
        seen += [r.behavior for r in page.results]
        cursor = page.next_cursor
        if cursor is None:
            break
    expected = sorted({b for _, s, b, *_ in BANK if s == "restaurant"})
    assert seen == expected
    with pytest.raises(InvalidInput):
        answer_query(bank_store, "restaurant", None, [], cursor="not-a-cursor")
