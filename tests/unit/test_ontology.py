"""The ontology mirrors the models one-to-one, and a bank exported from the store conforms to the SHACL shapes
(while broken banks do not)."""

from __future__ import annotations

import io
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
import rdflib
from pydantic import BaseModel
from pyshacl import validate
from rdflib.namespace import OWL, RDF, SKOS

from normgraph import ontology
from normgraph.ids import statement_id
from normgraph.models import (
    Concept,
    ConceptScheme,
    Constraint,
    Frame,
    Kind,
    Label,
    Norm,
    Provenance,
    ReviewState,
    RuleOfThumb,
    Subject,
    ValueRightDuty,
)
from normgraph.store import open_store
from normgraph.store import rdf_mapping as m

MODELS: list[type[BaseModel]] = [Norm, RuleOfThumb, ValueRightDuty, Concept, Provenance, Constraint, Frame]
NG = rdflib.Namespace(ontology.NG)
BUILT_IN = (str(RDF), str(rdflib.RDFS), str(OWL))


@pytest.fixture(scope="module")
def onto() -> rdflib.Graph:
    g = rdflib.Graph()
    g.parse(data=ontology.ontology_text(), format="turtle")
    return g


@pytest.fixture(scope="module")
def shapes() -> rdflib.Graph:
    g = rdflib.Graph()
    g.parse(data=ontology.shapes_text(), format="turtle")
    return g


def declared(g: rdflib.Graph, term: str) -> bool:
    return term.startswith(BUILT_IN) or (rdflib.URIRef(term), RDF.type, None) in g


# --- the mapping covers the models and the ontology declares the mapping -------------------------------------------


@pytest.mark.parametrize("model", MODELS, ids=lambda x: x.__name__)
def test_every_model_field_has_an_ontology_term(model: type[BaseModel], onto: rdflib.Graph) -> None:
    mapped = m.FIELD_TERMS[model.__name__]
    assert set(model.model_fields) == set(mapped), f"{model.__name__}: fields and mapped terms differ"
    undeclared = {f: t for f, t in mapped.items() if not declared(onto, t)}
    assert not undeclared, f"terms not declared in normgraph/ontology/normgraph.ttl: {undeclared}"


def test_model_classes_and_individuals_are_declared(onto: rdflib.Graph) -> None:
    for name, cls in {**m.MODEL_CLASSES, **{k.value: v for k, v in m.KIND_CLASS.items()}}.items():
        assert (rdflib.URIRef(cls), RDF.type, OWL.Class) in onto, name
    for table, cls in (
        (m.LABEL_IRI, NG.Label),
        (m.RELATION_IRI, NG.Relation),
        (m.SUBJECT_IRI, NG.Subject),
        (m.REVIEW_STATE_IRI, NG.ReviewState),
        (m.VALENCE_IRI, NG.Valence),
    ):
        members = {rdflib.URIRef(v) for v in table.values()}
        assert members == set(onto.subjects(RDF.type, cls)), cls
        assert len(members) == len(table)
    assert len(m.RELATION_IRI) == 6


def test_every_term_the_mapping_writes_is_declared(onto: rdflib.Graph) -> None:
    used = [v for k, v in vars(m).items() if k.startswith(("NG_", "SKOS_", "PROV_", "DCT_")) and isinstance(v, str)]
    assert len(used) > 30
    missing = [t for t in used if not declared(onto, t)]
    assert not missing, f"used by rdf_mapping but not declared in normgraph.ttl: {missing}"


def test_concept_schemes_and_moral_foundations(onto: rdflib.Graph) -> None:
    assert set(ConceptScheme) == set(ontology.SCHEME_IRI)
    for iri in ontology.SCHEME_IRI.values():
        assert (rdflib.URIRef(iri), RDF.type, SKOS.ConceptScheme) in onto, iri
    foundations = set(onto.subjects(SKOS.inScheme, NG.MoralFoundationScheme))
    labels = {str(onto.value(f, SKOS.prefLabel)) for f in foundations}
    assert labels == {"care", "fairness", "loyalty", "authority", "sanctity", "liberty"}
    for name in ontology.MORAL_FOUNDATIONS:  # the mapping links foundations onto these very concepts
        assert rdflib.URIRef(m.moral_foundation_iri(f"{name}-x")) in foundations


def test_files_are_package_data_beside_the_module() -> None:
    # Read through importlib.resources, so a wheel carries them (tests/integration/test_wheel.py installs one).
    assert Path(str(ontology.ONTOLOGY_FILE)) == Path(ontology.__file__).resolve().parent / "normgraph.ttl"
    assert "owl:Ontology" in ontology.ontology_text()
    assert "sh:NodeShape" in ontology.shapes_text()


# --- SHACL ---------------------------------------------------------------------------------------------------------

T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)


def _c(subject: str, attribute: str, value: str, relation: str = "is") -> Constraint:
    return Constraint(subject=Subject(subject), attribute=attribute, relation=relation, value=value)


def _norm(row: str, constraints: tuple[Constraint, ...], label: Label = Label.unexpected) -> Norm:
    return Norm(
        id=statement_id("n", "shacl", row),
        text=f"norm {row}",
        setting="restaurant",
        behavior="shout",
        label=label,
        constraints=constraints,
        split="train",
        provenance=Provenance(
            source="normbank", source_row=row, source_file="NormBank.csv", licence="CC BY-SA 4.0",
            agreement=0.5, generated_by="smollm2", reviewer="ada", created_at=T0,
        ),
    )


def bank(tmp_path: Path, extra: list[Norm] = ()) -> rdflib.Graph:  # type: ignore[assignment]
    store = open_store("oxigraph", tmp_path / "store")
    try:
        store.upsert_concepts(
            [
                Concept(
                    id="setting/diner", scheme=ConceptScheme.setting, label="diner", alt_labels=("eatery",),
                    broader=("setting/restaurant",), provenance=Provenance(source="taxonomy"),
                ),
                Concept(
                    id="attribute_value/age-bracket/teen", scheme=ConceptScheme.attribute_value, label="teen",
                    attribute="age bracket", provenance=Provenance(source="taxonomy"),
                ),
            ]
        )
        store.upsert_statements(
            [
                _norm("1", (_c("person", "role", "customer"), _c("person", "age bracket", "toddler", "<="))),
                _norm("2", (_c("person", "role", "customer"), _c("other", "role", "chef"),
                            _c("environment", "time of day", "night", "is not")), Label.okay),
                _norm("3", ()),
                RuleOfThumb(
                    id="rot-1", text="Be kind.", label=Label.expected, moral_foundations=("care-harm",),
                    judgments={"agree": 3}, review_state=ReviewState.approved,
                    provenance=Provenance(source="social-chem-101", created_at=T0,
                                          source_fields={"rot-bad": 0, "split": "train", "is_short": True}),
                ),
                ValueRightDuty(
                    id="r-1", kind=Kind.right, text="Everyone has the right to rest.",
                    provenance=Provenance(source="udhr", created_at=T0),
                ),
                *extra,
            ]
        )
        buf = io.BytesIO()
        store.export("turtle", buf)
    finally:
        store.close()
    g = rdflib.Graph()
    g.parse(data=buf.getvalue(), format="turtle")
    return g


def conforms(data: rdflib.Graph, shapes: rdflib.Graph) -> tuple[bool, str]:
    ok, _, text = validate(data, shacl_graph=shapes, advanced=True, allow_warnings=False)
    return bool(ok), str(text)


def test_exported_bank_conforms_to_the_shapes(tmp_path: Path, shapes: rdflib.Graph) -> None:
    g = bank(tmp_path)
    assert len(set(g.subjects(RDF.type, NG.Norm))) == 3
    ok, report = conforms(g, shapes)
    assert ok, report


def test_source_fields_are_one_json_literal_and_only_where_given(tmp_path: Path, shapes: rdflib.Graph) -> None:
    g = bank(tmp_path)
    kept = list(g.subject_objects(NG.sourceFields))
    assert [(str(g.value(s, NG.text)), o.datatype) for s, o in kept] == [("Be kind.", RDF.JSON)]
    assert json.loads(str(kept[0][1])) == {"rot-bad": 0, "split": "train", "is_short": True}
    g.add((kept[0][0], NG.sourceFields, rdflib.Literal("rot-bad=0")))  # not JSON, and a second value
    ok, report = conforms(g, shapes)
    assert not ok and "sourceFields" in report


def test_same_content_treats_missing_and_empty_source_fields_alike() -> None:
    """Payloads stored before ``source_fields`` existed lack the key: re-ingesting the same row is no change,
    while a row that now keeps columns is one."""
    new = _norm("1", ()).model_dump(mode="json")
    old = _norm("1", ()).model_dump(mode="json")
    del old["provenance"]["source_fields"]
    assert new["provenance"]["source_fields"] == {}
    assert m.same_content(old, new) and m.same_content(new, old)
    kept = _norm("1", ()).model_dump(mode="json")
    kept["provenance"]["source_fields"] = {"is_short": True}
    assert not m.same_content(old, kept) and not m.same_content(kept, new)


def test_norm_with_two_labels_does_not_conform(tmp_path: Path, shapes: rdflib.Graph) -> None:
    g = bank(tmp_path)
    n = next(iter(g.subjects(RDF.type, NG.Norm)))
    g.add((n, NG.label, NG.okay if (n, NG.label, NG.expected) in g else NG.expected))
    ok, report = conforms(g, shapes)
    assert not ok and "exactly one label" in report


def test_constraint_with_unknown_relation_does_not_conform(tmp_path: Path, shapes: rdflib.Graph) -> None:
    g = bank(tmp_path)
    cnode = next(iter(g.subjects(RDF.type, NG.Constraint)))
    g.remove((cnode, NG.relation, None))
    g.add((cnode, NG.relation, NG.resembles))
    ok, report = conforms(g, shapes)
    assert not ok and "one of the six" in report


def test_norm_without_setting_or_source_does_not_conform(tmp_path: Path, shapes: rdflib.Graph) -> None:
    g = bank(tmp_path)
    n = next(iter(g.subjects(RDF.type, NG.Norm)))
    g.remove((n, NG.setting, None))
    ok, report = conforms(g, shapes)
    assert not ok and "a norm has a setting or a situation" in report
    # A norm judged in a situation (Moral Stories, ETHICS, PrivacyLens) needs no setting.
    g.add((n, NG.inSituation, next(iter(g.subjects(RDF.type, SKOS.Concept)))))
    ok, report = conforms(g, shapes)
    assert ok, report
    g = bank(tmp_path / "again")
    n = next(iter(g.subjects(RDF.type, NG.Norm)))
    g.remove((n, rdflib.URIRef(m.PROV_DERIVED), None))
    ok, report = conforms(g, shapes)
    assert not ok and "provenance source" in report


def test_two_is_values_of_a_single_valued_attribute_do_not_conform(tmp_path: Path, shapes: rdflib.Graph) -> None:
    clash = _norm("9", (_c("person", "gender", "man"), _c("person", "gender", "woman")))
    g = bank(tmp_path, [clash])
    ok, report = conforms(g, shapes)
    assert not ok and "single-valued attribute" in report and "gender" in report
    # different subjects, or 'is not', are no clash
    fine = _norm("10", (_c("person", "gender", "man"), _c("other", "gender", "woman"),
                        _c("person", "gender", "woman", "is not")))
    ok, report = conforms(bank(tmp_path / "fine", [fine]), shapes)
    assert ok, report
