"""The model <-> RDF mapping: which ontology term carries each model field, and the N-Triples lines a
statement or concept is written as.

Lines are produced as text (N-Triples, which is also valid inside a SPARQL ``INSERT DATA``) rather than as
pyoxigraph term objects: building one Python object per term costs more than the whole Rust-side parse, and
ingest writes millions of triples.

Shape of the graph (see normgraph/ontology/normgraph.ttl):

- a statement ``ngs:<id>`` has one class per kind (``ng:Norm`` …), ``ng:text``, ``ng:setting`` /
  ``ng:behavior`` -> SKOS concepts, ``ng:reviewState``, ``ng:label``, PROV-O provenance on the statement
  itself (it is the ``prov:Entity``): ``prov:wasDerivedFrom`` -> its source (an ``ng:SourceDataset`` node with
  ``ng:sourceDataset``, ``ng:sourceFile``, ``dct:license``, shared by every statement read from that file),
  ``ng:sourceRow``, ``ng:agreement``, ``prov:wasGeneratedBy``, ``prov:generatedAtTime`` …;
- a statement written for a situation keeps the text as written (``ng:situation``) and links the situation
  node (``ng:inSituation``), one SKOS concept of ``ng:SituationScheme`` per normalised text, shared across
  sources (``normgraph.situations``); source nodes of registered sources carry their attribution
  (``dct:title``, ``dct:bibliographicCitation``, ``dct:rights``) so exports credit them;
- constraints are content-addressed nodes ``ngx:<hash>`` (subject, attribute, relation, value) shared by
  every statement that states the same constraint, linked with ``ng:constraint``;
- ``ng:payload`` holds the statement's (or concept's) own JSON so that reading it back is one lookup
  (docs/decisions/0001-oxigraph-store-and-payload.md); exports leave it out.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from typing import Any, Iterator
from urllib.parse import quote, unquote

import orjson
from pydantic import TypeAdapter

from normgraph.frames.grammar import format_constraint
from normgraph.ids import concept_id, normalise_text, slug
from normgraph.situations import situation_id
from normgraph.source_registry import source_info
from normgraph.models import (
    AnyStatement,
    Concept,
    ConceptScheme,
    Constraint,
    Kind,
    Label,
    Norm,
    Provenance,
    Relation,
    ReviewState,
    RuleOfThumb,
    Subject,
    Valence,
    ValueRightDuty,
)
from normgraph.ontology import (
    ACTIVITY_NS,
    CONCEPT_NS,
    CONSTRAINT_NS,
    CONTEXT_NS,
    DCT,
    MORAL_FOUNDATIONS,
    NG,
    PROV,
    RDF,
    RDFS,
    SCHEME_IRI,
    SKOS,
    SOURCE_NS,
    STATEMENT_NS,
    XSD,
)

# --- terms ---------------------------------------------------------------------------------------------------

RDF_TYPE = RDF + "type"
RDF_JSON = RDF + "JSON"
RDFS_LABEL = RDFS + "label"
XSD_DOUBLE = XSD + "double"
XSD_DATETIME = XSD + "dateTime"
SKOS_CONCEPT = SKOS + "Concept"
SKOS_CONCEPT_SCHEME = SKOS + "ConceptScheme"
SKOS_PREF_LABEL = SKOS + "prefLabel"
SKOS_ALT_LABEL = SKOS + "altLabel"
SKOS_BROADER = SKOS + "broader"
SKOS_IN_SCHEME = SKOS + "inScheme"
SKOS_DEFINITION = SKOS + "definition"
PROV_ENTITY = PROV + "Entity"
PROV_ACTIVITY = PROV + "Activity"
PROV_DERIVED = PROV + "wasDerivedFrom"
PROV_GENERATED_BY = PROV + "wasGeneratedBy"
PROV_GENERATED_AT = PROV + "generatedAtTime"
DCT_IDENTIFIER = DCT + "identifier"
DCT_LICENSE = DCT + "license"
DCT_TITLE = DCT + "title"
DCT_CITATION = DCT + "bibliographicCitation"
DCT_RIGHTS = DCT + "rights"

NG_STATEMENT = NG + "Statement"
NG_CONSTRAINT_CLASS = NG + "Constraint"
NG_SOURCE_DATASET_CLASS = NG + "SourceDataset"
NG_TEXT = NG + "text"
NG_SETTING = NG + "setting"
NG_BEHAVIOR = NG + "behavior"
NG_SITUATION = NG + "situation"
NG_IN_SITUATION = NG + "inSituation"
NG_COUNTRY = NG + "country"
NG_REVIEW_STATE = NG + "reviewState"
NG_LABEL = NG + "label"
NG_CONSTRAINT = NG + "constraint"
NG_SPLIT = NG + "split"
NG_ACTION = NG + "action"
NG_MORAL_FOUNDATION = NG + "moralFoundation"
NG_JUDGMENTS = NG + "judgments"
NG_VALENCE = NG + "valence"
NG_EXPLANATION = NG + "explanation"
NG_SUBJECT = NG + "subject"
NG_ATTRIBUTE = NG + "attribute"
NG_RELATION = NG + "relation"
NG_VALUE = NG + "value"
NG_RELATED_SETTING = NG + "relatedSetting"
NG_SUBJECT_KIND = NG + "subjectKind"
NG_SOURCE_DATASET = NG + "sourceDataset"
NG_SOURCE_ROW = NG + "sourceRow"
NG_SOURCE_FILE = NG + "sourceFile"
NG_AGREEMENT = NG + "agreement"
NG_REVIEWER = NG + "reviewer"
NG_INFERRED = NG + "inferred"
NG_SOURCE_FIELDS = NG + "sourceFields"
NG_GENERATION = NG + "generation"
NG_MODEL = NG + "model"
NG_PAYLOAD = NG + "payload"
NG_CONTEXT = NG + "context"

KIND_CLASS: dict[Kind, str] = {
    Kind.norm: NG + "Norm",
    Kind.rule_of_thumb: NG + "RuleOfThumb",
    Kind.value: NG + "Value",
    Kind.right: NG + "Right",
    Kind.duty: NG + "Duty",
}
KIND_OF_CLASS: dict[str, Kind] = {iri: kind for kind, iri in KIND_CLASS.items()}

LABEL_IRI: dict[Label, str] = {label: NG + label.value for label in Label}
LABEL_OF_IRI: dict[str, Label] = {iri: label for label, iri in LABEL_IRI.items()}
SUBJECT_IRI: dict[Subject, str] = {s: NG + s.value for s in Subject}
REVIEW_STATE_IRI: dict[ReviewState, str] = {s: NG + s.value for s in ReviewState}
VALENCE_IRI: dict[Valence, str] = {v: NG + v.value for v in Valence}
RELATION_IRI: dict[Relation, str] = {
    Relation.is_: NG + "is",
    Relation.is_not: NG + "isNot",
    Relation.lt: NG + "lessThan",
    Relation.le: NG + "lessThanOrEqual",
    Relation.gt: NG + "greaterThan",
    Relation.ge: NG + "greaterThanOrEqual",
}

# Every field of every model -> the ontology term that carries it (tests/unit/test_ontology.py checks that this
# covers every model field and that every term is declared in normgraph/ontology/normgraph.ttl).
_STATEMENT_FIELDS: dict[str, str] = {
    "id": DCT_IDENTIFIER,
    "kind": RDF_TYPE,  # one class per kind: ng:Norm, ng:RuleOfThumb, ng:Value, ng:Right, ng:Duty
    "text": NG_TEXT,
    "setting": NG_SETTING,
    "behavior": NG_BEHAVIOR,
    "situation": NG_SITUATION,
    "country": NG_COUNTRY,
    "review_state": NG_REVIEW_STATE,
    # The statement is itself the prov:Entity; its provenance hangs off it, starting from its source.
    "provenance": PROV_DERIVED,
}
FIELD_TERMS: dict[str, dict[str, str]] = {
    "Norm": {
        **_STATEMENT_FIELDS,
        "label": NG_LABEL,
        "constraints": NG_CONSTRAINT,
        "split": NG_SPLIT,
        "moral_foundations": NG_MORAL_FOUNDATION,
    },
    "RuleOfThumb": {
        **_STATEMENT_FIELDS,
        "label": NG_LABEL,
        "action": NG_ACTION,
        "moral_foundations": NG_MORAL_FOUNDATION,
        "judgments": NG_JUDGMENTS,
    },
    "ValueRightDuty": {**_STATEMENT_FIELDS, "valence": NG_VALENCE, "explanation": NG_EXPLANATION},
    "Constraint": {
        "subject": NG_SUBJECT,
        "attribute": NG_ATTRIBUTE,
        "relation": NG_RELATION,
        "value": NG_VALUE,
    },
    "Frame": {"setting": NG_SETTING, "constraints": NG_CONSTRAINT},
    "Provenance": {
        "source": NG_SOURCE_DATASET,
        "source_row": NG_SOURCE_ROW,
        "source_file": NG_SOURCE_FILE,
        "licence": DCT_LICENSE,
        "agreement": NG_AGREEMENT,
        "generated_by": PROV_GENERATED_BY,
        "reviewer": NG_REVIEWER,
        "created_at": PROV_GENERATED_AT,
        "inferred": NG_INFERRED,
        "source_fields": NG_SOURCE_FIELDS,
        "generation": NG_GENERATION,
    },
    "Concept": {
        "id": DCT_IDENTIFIER,
        "scheme": SKOS_IN_SCHEME,
        "label": SKOS_PREF_LABEL,
        "alt_labels": SKOS_ALT_LABEL,
        "broader": SKOS_BROADER,
        "related_settings": NG_RELATED_SETTING,
        "attribute": NG_ATTRIBUTE,
        "subject": NG_SUBJECT_KIND,
        "definition": SKOS_DEFINITION,
        "provenance": PROV_DERIVED,
    },
}
MODEL_CLASSES: dict[str, str] = {
    "Norm": KIND_CLASS[Kind.norm],
    "RuleOfThumb": KIND_CLASS[Kind.rule_of_thumb],
    "ValueRightDuty": NG + "ValueRightDuty",
    "Constraint": NG_CONSTRAINT_CLASS,
    "Frame": NG + "Frame",
    "Provenance": PROV_ENTITY,
    "Concept": SKOS_CONCEPT,
}

# --- identifiers -> IRIs -------------------------------------------------------------------------------------

_SAFE = "-._~/"
_SAFE_ID = re.compile(r"[A-Za-z0-9._~/-]+")


def _encode(identifier: str) -> str:
    # Most ids (``n-3f2a…``, ``setting/restaurant``) need no escaping; skipping quote() matters at ingest rates.
    return identifier if _SAFE_ID.fullmatch(identifier) else quote(identifier, safe=_SAFE)


def statement_iri(statement_id: str) -> str:
    return STATEMENT_NS + _encode(statement_id)


def statement_id_of(iri: str) -> str:
    return unquote(iri[len(STATEMENT_NS):])


def concept_iri(cid: str) -> str:
    return CONCEPT_NS + _encode(cid)


def concept_id_of(iri: str) -> str:
    return unquote(iri[len(CONCEPT_NS):])


@lru_cache(maxsize=65536)
def setting_iri(label: str) -> str:
    return concept_iri(concept_id(ConceptScheme.setting.value, label))


@lru_cache(maxsize=65536)
def behavior_iri(label: str) -> str:
    return concept_iri(concept_id(ConceptScheme.behavior.value, label))


@lru_cache(maxsize=65536)
def situation_iri(text: str) -> str:
    """The situation node a statement's situation text links to (``normgraph.situations.situation_id``)."""
    return concept_iri(situation_id(text))


def node_id(scheme: ConceptScheme, label: str) -> str:
    """The id of the concept a statement names by label in ``scheme``."""
    return situation_id(label) if scheme is ConceptScheme.situation else concept_id(scheme.value, label)


@lru_cache(maxsize=4096)
def attribute_iri(attribute: str) -> str:
    return concept_iri(concept_id(ConceptScheme.attribute.value, attribute))


@lru_cache(maxsize=65536)
def context_iri(setting: str, behavior: str) -> str:
    """The (setting, behaviour) pair a norm is about, as one node: the frame query's candidates are the norms
    of a few such pairs, and one index lookup per pair beats starting from the setting (~1,200 norms at 155k)
    or the behaviour (shared by many settings) and filtering by the other."""
    return context_iri_of(setting_iri(setting), behavior_iri(behavior))


@lru_cache(maxsize=65536)
def context_iri_of(setting_iri: str, behavior_iri: str) -> str:
    """``context_iri`` from the concept IRIs, for readers that know a norm's behaviour by its IRI only."""
    key = setting_iri + "\x1f" + behavior_iri
    return CONTEXT_NS + hashlib.sha256(key.encode("utf-8")).hexdigest()[:20]


def constraint_iri(c: Constraint) -> str:
    """Constraints are content-addressed: every statement stating the same constraint links the same node."""
    # ``_value_`` rather than ``.value``: enum properties are a Python-level call, and this runs per constraint.
    return _constraint_iri(c.subject._value_, c.attribute, c.relation._value_, c.value)


@lru_cache(maxsize=65536)  # keyed by plain strings: comparing pydantic models on cache hits is slow
def _constraint_iri(subject: str, attribute: str, relation: str, value: str) -> str:
    key = "\x1f".join((subject, attribute, relation, value))
    return CONSTRAINT_NS + hashlib.sha256(key.encode("utf-8")).hexdigest()[:20]


def source_iri(p: Provenance) -> str:
    """The source a statement was derived from: the dataset as read from one file under one licence
    (``ngsrc:normbank`` or ``ngsrc:normbank/3f2a…``). Shared by all its statements, so the file and licence
    are two triples per source rather than per statement."""
    return _source_iri(p.source, p.source_file, p.licence)


@lru_cache(maxsize=1024)
def _source_iri(source: str, source_file: str | None, licence: str | None) -> str:
    if source_file is None and licence is None:
        return SOURCE_NS + slug(source)
    key = "\x1f".join((source, source_file or "", licence or ""))
    return SOURCE_NS + slug(source) + "/" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]


def activity_iri(model: str) -> str:
    return ACTIVITY_NS + "generation/" + slug(model)


@lru_cache(maxsize=1024)
def moral_foundation_iri(name: str) -> str:
    """Social-Chem-101 writes foundations as ``care-harm``, ``fairness-cheating`` …: link the MFT concept."""
    n = normalise_text(name)
    for f in MORAL_FOUNDATIONS:
        if n == f or n.startswith(f + "-") or n.startswith(f + "/"):
            return concept_iri(concept_id(ConceptScheme.moral_foundation.value, f))
    return concept_iri(concept_id(ConceptScheme.moral_foundation.value, n))


# --- N-Triples text -----------------------------------------------------------------------------------------

def _escape(value: str) -> str:
    # Chained str.replace is several times faster than str.translate with a table of multi-character outputs.
    if "\\" in value:
        value = value.replace("\\", "\\\\")
    if '"' in value:
        value = value.replace('"', '\\"')
    if "\n" in value:
        value = value.replace("\n", "\\n")
    if "\r" in value:
        value = value.replace("\r", "\\r")
    return value


def lit(value: str) -> str:
    """A plain string literal (xsd:string) in N-Triples / SPARQL syntax."""
    return '"' + _escape(value) + '"'


def typed(value: str, datatype: str) -> str:
    return '"' + _escape(value) + '"^^<' + datatype + ">"


def iri(value: str) -> str:
    return "<" + value + ">"


_T_TYPE = iri(RDF_TYPE)
_T = {name: iri(value) for name, value in globals().items() if name.startswith(("NG_", "SKOS_", "PROV_", "DCT_"))}


# Bracketed terms of the hot path, looked up once.
_T_DERIVED = _T["PROV_DERIVED"]
_T_SOURCE_ROW = _T["NG_SOURCE_ROW"]
_T_SOURCE_FILE = _T["NG_SOURCE_FILE"]
_T_LICENSE = _T["DCT_LICENSE"]
_T_GENERATED_AT = _T["PROV_GENERATED_AT"]
_T_IDENTIFIER = _T["DCT_IDENTIFIER"]
_T_TEXT = _T["NG_TEXT"]
_T_REVIEW_STATE = _T["NG_REVIEW_STATE"]
_T_SETTING = _T["NG_SETTING"]
_T_BEHAVIOR = _T["NG_BEHAVIOR"]
_T_LABEL = _T["NG_LABEL"]
_T_CONSTRAINT = _T["NG_CONSTRAINT"]
_T_SPLIT = _T["NG_SPLIT"]
_T_PAYLOAD = _T["NG_PAYLOAD"]
_T_CONTEXT = _T["NG_CONTEXT"]
_T_IN_SITUATION = _T["NG_IN_SITUATION"]
_KIND_T = {k: iri(v) for k, v in KIND_CLASS.items()}
_LABEL_T = {k: iri(v) for k, v in LABEL_IRI.items()}
_REVIEW_STATE_T = {k: iri(v) for k, v in REVIEW_STATE_IRI.items()}


def _line(s: str, p: str, o: str) -> str:
    return f"{s} {p} {o} ."


# --- payloads -----------------------------------------------------------------------------------------------

_STATEMENT_ADAPTER: TypeAdapter[AnyStatement] = TypeAdapter(AnyStatement)


def decode_statement(payload: str) -> AnyStatement:
    return _STATEMENT_ADAPTER.validate_json(payload)


def decode_concept(payload: str) -> Concept:
    return Concept.model_validate_json(payload)


_EMPTY: tuple[Any, ...] = (None, {}, [], ())


def same_content(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Equal apart from the provenance timestamp: re-ingesting the same row later is not a change. A field one
    side lacks and the other holds empty counts as equal, so payloads written before a field was added to the
    models (e.g. ``provenance.inferred``) do not make every re-ingested row an update."""
    for key in a.keys() | b.keys():
        va, vb = a.get(key), b.get(key)
        if key == "provenance" and isinstance(va, dict) and isinstance(vb, dict):
            for k in va.keys() | vb.keys():
                if k != "created_at" and va.get(k) != vb.get(k) and not (va.get(k) in _EMPTY and vb.get(k) in _EMPTY):
                    return False
        elif va != vb and not (va in _EMPTY and vb in _EMPTY):
            return False
    return True


# --- statements ---------------------------------------------------------------------------------------------


def provenance_lines(s: str, p: Provenance, out: list[str]) -> None:
    add = out.append
    add(f"{s} {_T_DERIVED} <{source_iri(p)}> .")
    if p.source_row is not None:
        add(f"{s} {_T_SOURCE_ROW} {lit(p.source_row)} .")
    if p.agreement is not None:
        add(f"{s} {_T['NG_AGREEMENT']} {typed(repr(float(p.agreement)), XSD_DOUBLE)} .")
    if p.generated_by is not None:
        add(f"{s} {_T['PROV_GENERATED_BY']} <{activity_iri(p.generated_by)}> .")
    if p.reviewer is not None:
        add(f"{s} {_T['NG_REVIEWER']} {lit(p.reviewer)} .")
    if p.inferred:
        add(f"{s} {_T['NG_INFERRED']} {typed(orjson.dumps(p.inferred).decode(), RDF_JSON)} .")
    if p.source_fields:
        add(f"{s} {_T['NG_SOURCE_FIELDS']} {typed(orjson.dumps(p.source_fields).decode(), RDF_JSON)} .")
    if p.generation:
        add(f"{s} {_T['NG_GENERATION']} {typed(orjson.dumps(p.generation).decode(), RDF_JSON)} .")
    add(f'{s} {_T_GENERATED_AT} "{p.created_at.isoformat()}"^^<{XSD_DATETIME}> .')


def source_lines(p: Provenance) -> list[str]:
    """The source node of ``source_iri(p)``: dataset name, file and licence."""
    s = iri(source_iri(p))
    out = [
        _line(s, _T_TYPE, _T["NG_SOURCE_DATASET_CLASS"]),
        _line(s, _T_TYPE, _T["PROV_ENTITY"]),
        _line(s, _T["NG_SOURCE_DATASET"], lit(p.source)),
    ]
    if p.source_file is not None:
        out.append(_line(s, _T_SOURCE_FILE, lit(p.source_file)))
    if p.licence is not None:
        out.append(_line(s, _T_LICENSE, lit(p.licence)))
    out += _attribution_lines(s, p.source)
    return out


@lru_cache(maxsize=256)
def _attribution_lines(s: str, source: str) -> tuple[str, ...]:
    """What a registered source's licence asks exports to carry (normgraph/source_registry.py)."""
    info = source_info(source)
    if info is None:
        return ()
    return (
        _line(s, _T["DCT_TITLE"], lit(info.title)),
        _line(s, _T["DCT_CITATION"], lit(info.attribution)),
        _line(s, _T["DCT_RIGHTS"], lit(info.notice())),
    )


def activity_lines(model: str) -> list[str]:
    s = iri(activity_iri(model))
    return [_line(s, _T_TYPE, _T["PROV_ACTIVITY"]), _line(s, _T["NG_MODEL"], lit(model))]


def constraint_lines(c: Constraint) -> list[str]:
    s = iri(constraint_iri(c))
    return [
        _line(s, _T_TYPE, _T["NG_CONSTRAINT_CLASS"]),
        _line(s, _T["NG_SUBJECT"], iri(SUBJECT_IRI[c.subject])),
        _line(s, _T["NG_ATTRIBUTE"], iri(attribute_iri(c.attribute))),
        _line(s, _T["NG_RELATION"], iri(RELATION_IRI[c.relation])),
        _line(s, _T["NG_VALUE"], lit(c.value)),
        _line(s, iri(RDFS_LABEL), lit(format_constraint(c))),
    ]


def statement_lines(st: AnyStatement, payload: str | None) -> list[str]:
    """The statement's own triples (subject = the statement). Shared nodes (constraints, sources, activities,
    concepts) are written by the caller once per batch. Written for speed: this runs for every ingested row."""
    s = "<" + statement_iri(st.id) + ">"
    out = [
        f"{s} {_T_TYPE} {_KIND_T[st.kind]} .",
        f"{s} {_T_IDENTIFIER} {lit(st.id)} .",
        f"{s} {_T_TEXT} {lit(st.text)} .",
        f"{s} {_T_REVIEW_STATE} {_REVIEW_STATE_T[st.review_state]} .",
    ]
    add = out.append
    if st.setting is not None:
        add(f"{s} {_T_SETTING} <{setting_iri(st.setting)}> .")
    if st.behavior is not None:
        add(f"{s} {_T_BEHAVIOR} <{behavior_iri(st.behavior)}> .")
        if st.setting is not None:
            add(f"{s} {_T_CONTEXT} <{context_iri(st.setting, st.behavior)}> .")
    if st.situation is not None:
        add(f"{s} {_T['NG_SITUATION']} {lit(st.situation)} .")
        add(f"{s} {_T_IN_SITUATION} <{situation_iri(st.situation)}> .")
    if st.country is not None:
        add(f"{s} {_T['NG_COUNTRY']} {lit(st.country)} .")
    if isinstance(st, Norm):
        add(f"{s} {_T_LABEL} {_LABEL_T[st.label]} .")
        for c in st.constraints:
            add(f"{s} {_T_CONSTRAINT} <{constraint_iri(c)}> .")
        if st.split is not None:
            add(f"{s} {_T_SPLIT} {lit(st.split)} .")
        for mf in st.moral_foundations:
            add(f"{s} {_T['NG_MORAL_FOUNDATION']} <{moral_foundation_iri(mf)}> .")
    elif isinstance(st, RuleOfThumb):
        if st.label is not None:
            add(f"{s} {_T_LABEL} {_LABEL_T[st.label]} .")
        if st.action is not None:
            add(f"{s} {_T['NG_ACTION']} {lit(st.action)} .")
        for mf in st.moral_foundations:
            add(f"{s} {_T['NG_MORAL_FOUNDATION']} <{moral_foundation_iri(mf)}> .")
        if st.judgments:
            add(f"{s} {_T['NG_JUDGMENTS']} {typed(orjson.dumps(st.judgments).decode(), RDF_JSON)} .")
    elif isinstance(st, ValueRightDuty):
        add(f"{s} {_T['NG_VALENCE']} {iri(VALENCE_IRI[st.valence])} .")
        if st.explanation is not None:
            add(f"{s} {_T['NG_EXPLANATION']} {lit(st.explanation)} .")
    provenance_lines(s, st.provenance, out)
    if payload is not None:
        add(f"{s} {_T_PAYLOAD} {typed(payload, RDF_JSON)} .")
    return out


def concept_refs(st: AnyStatement) -> Iterator[tuple[str, ConceptScheme, str, Subject | None]]:
    """(IRI, scheme, label, subject kind) of what a statement refers to by label: its setting, its behaviour and
    the attributes its constraints use. The store creates a minimal concept for each one it does not hold yet,
    so the graph stays linked."""
    if st.setting is not None:
        yield setting_iri(st.setting), _SETTING, st.setting, None
    if st.behavior is not None:
        yield behavior_iri(st.behavior), _BEHAVIOR, st.behavior, None
    if st.situation is not None:
        yield situation_iri(st.situation), _SITUATION, " ".join(st.situation.split()), None
    if isinstance(st, Norm):
        for c in st.constraints:
            kind = _ENVIRONMENT if c.subject is _ENVIRONMENT else _PERSON
            yield attribute_iri(c.attribute), _ATTRIBUTE, c.attribute, kind


# Enum members bound once: class-attribute access to a member is a Python-level property call in 3.11.
_SETTING, _BEHAVIOR, _ATTRIBUTE = ConceptScheme.setting, ConceptScheme.behavior, ConceptScheme.attribute
_SITUATION = ConceptScheme.situation
_PERSON, _ENVIRONMENT = Subject.person, Subject.environment


def minimal_concept(scheme: ConceptScheme, label: str, subject: Subject | None, source: Provenance) -> Concept:
    return Concept(
        id=node_id(scheme, label),
        scheme=scheme,
        label=label,
        subject=subject,
        provenance=Provenance(source=source.source, licence=source.licence, created_at=source.created_at),
    )


# --- concepts -----------------------------------------------------------------------------------------------


def concept_lines(c: Concept, payload: str | None) -> list[str]:
    s = iri(concept_iri(c.id))
    out = [
        _line(s, _T_TYPE, _T["SKOS_CONCEPT"]),
        _line(s, _T["DCT_IDENTIFIER"], lit(c.id)),
        _line(s, _T["SKOS_IN_SCHEME"], iri(SCHEME_IRI[c.scheme])),
        _line(s, _T["SKOS_PREF_LABEL"], lit(c.label)),
    ]
    for alt in c.alt_labels:
        out.append(_line(s, _T["SKOS_ALT_LABEL"], lit(alt)))
    for b in c.broader:
        out.append(_line(s, _T["SKOS_BROADER"], iri(concept_iri(b))))
    for r in c.related_settings:
        out.append(_line(s, _T["NG_RELATED_SETTING"], iri(concept_iri(r))))
    if c.attribute is not None:
        out.append(_line(s, _T["NG_ATTRIBUTE"], iri(attribute_iri(c.attribute))))
    if c.subject is not None:
        out.append(_line(s, _T["NG_SUBJECT_KIND"], iri(SUBJECT_IRI[c.subject])))
    if c.definition is not None:
        out.append(_line(s, _T["SKOS_DEFINITION"], lit(c.definition)))
    provenance_lines(s, c.provenance, out)
    if payload is not None:
        out.append(_line(s, _T["NG_PAYLOAD"], typed(payload, RDF_JSON)))
    return out


def merge_concept(old: Concept, new: Concept) -> Concept:
    """Merge ``new`` into ``old``: labels, broader and related settings are unioned, the existing preferred
    label, provenance and single values are kept (a new preferred label that differs becomes an alias)."""
    pref = normalise_text(old.label)
    alts: list[str] = []
    seen = {pref}
    for a in (*old.alt_labels, *new.alt_labels, new.label):
        n = normalise_text(a)
        if n not in seen:
            seen.add(n)
            alts.append(a)
    return old.model_copy(
        update={
            "alt_labels": tuple(alts),
            "broader": _union(old.broader, new.broader, exclude=old.id),
            "related_settings": _union(old.related_settings, new.related_settings),
            "attribute": old.attribute if old.attribute is not None else new.attribute,
            "subject": old.subject if old.subject is not None else new.subject,
            "definition": old.definition if old.definition is not None else new.definition,
        }
    )


def _union(a: tuple[str, ...], b: tuple[str, ...], exclude: str | None = None) -> tuple[str, ...]:
    out = dict.fromkeys(a)
    out.update(dict.fromkeys(b))
    out.pop(exclude, None)  # type: ignore[arg-type]
    return tuple(out)
