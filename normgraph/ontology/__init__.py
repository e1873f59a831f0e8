"""The normgraph ontology: namespace IRIs and access to ``normgraph.ttl`` and ``shapes.ttl`` beside this module.

This is the only module that reads the two Turtle files (they are data, not code). They are package data, read
through ``importlib.resources``, so an installed wheel carries them as an editable checkout does
(docs/decisions/0010-packaging-and-guards.md). The vocabulary
terms themselves (classes, properties, individuals) are written out in the Turtle; the store's model <-> RDF
mapping (``normgraph.store.rdf_mapping``) uses the namespaces defined here, and a test checks that every term
it uses is declared in ``normgraph.ttl``.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable

from normgraph.models import ConceptScheme

ONTOLOGY_DIR: Traversable = files(__name__)
ONTOLOGY_FILE: Traversable = ONTOLOGY_DIR / "normgraph.ttl"
SHAPES_FILE: Traversable = ONTOLOGY_DIR / "shapes.ttl"

# Vocabulary namespaces.
NG = "https://w3id.org/normgraph#"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
OWL = "http://www.w3.org/2002/07/owl#"
XSD = "http://www.w3.org/2001/XMLSchema#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
PROV = "http://www.w3.org/ns/prov#"
DCT = "http://purl.org/dc/terms/"
SH = "http://www.w3.org/ns/shacl#"

# Instance namespaces: where the bank's own resources live. Identifiers are percent-encoded into them.
BASE = "https://w3id.org/normgraph/"
STATEMENT_NS = BASE + "statement/"
CONCEPT_NS = BASE + "concept/"
CONSTRAINT_NS = BASE + "constraint/"
SOURCE_NS = BASE + "source/"
ACTIVITY_NS = BASE + "activity/"
CONTEXT_NS = BASE + "context/"

PREFIXES: dict[str, str] = {
    "ng": NG,
    "rdf": RDF,
    "rdfs": RDFS,
    "owl": OWL,
    "xsd": XSD,
    "skos": SKOS,
    "prov": PROV,
    "dct": DCT,
    "ngs": STATEMENT_NS,
    "ngc": CONCEPT_NS,
    "ngx": CONSTRAINT_NS,
    "ngsrc": SOURCE_NS,
}

# One SKOS concept scheme per ConceptScheme, declared in normgraph.ttl.
SCHEME_IRI: dict[ConceptScheme, str] = {
    ConceptScheme.setting: NG + "SettingScheme",
    ConceptScheme.role: NG + "RoleScheme",
    ConceptScheme.behavior: NG + "BehaviorScheme",
    ConceptScheme.attribute: NG + "AttributeScheme",
    ConceptScheme.attribute_value: NG + "AttributeValueScheme",
    ConceptScheme.item: NG + "ItemScheme",
    ConceptScheme.moral_foundation: NG + "MoralFoundationScheme",
    ConceptScheme.schwartz_value: NG + "SchwartzValueScheme",
    ConceptScheme.situation: NG + "SituationScheme",
}
SCHEME_OF_IRI: dict[str, ConceptScheme] = {iri: scheme for scheme, iri in SCHEME_IRI.items()}

# The six moral foundations of Moral Foundations Theory, declared as concepts in normgraph.ttl.
MORAL_FOUNDATIONS: tuple[str, ...] = ("care", "fairness", "loyalty", "authority", "sanctity", "liberty")


def ontology_text() -> str:
    """The OWL/SKOS ontology as Turtle."""
    return _read(ONTOLOGY_FILE)


def shapes_text() -> str:
    """The SHACL shapes as Turtle."""
    return _read(SHAPES_FILE)


def _read(path: Traversable) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{path} is missing: the ontology files ship as package data of normgraph.ontology; "
            "reinstall normgraph (a build that left out its *.ttl package data)"
        ) from None
