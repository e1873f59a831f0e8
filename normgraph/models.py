"""The canonical schema: ingest, stores, API and exports all speak these models.

Every field here has a term in ``normgraph/ontology/normgraph.ttl`` (a test checks it), so adding a field means adding
its ontology term too.
"""

from __future__ import annotations

from datetime import datetime, timezone
from enum import Enum
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Label(str, Enum):
    """How a behaviour is judged under a frame. NormBank's expected/normal/taboo map onto these."""

    expected = "expected"
    okay = "okay"
    unexpected = "unexpected"


class Subject(str, Enum):
    """Who a constraint is about: the actor, another person present, or the environment."""

    person = "person"
    other = "other"
    environment = "environment"


class Relation(str, Enum):
    is_ = "is"
    is_not = "is not"
    lt = "<"
    le = "<="
    gt = ">"
    ge = ">="


# NormBank's wordings of each relation (and common paraphrases) -> the relation. The first phrase of each
# relation is the canonical one the printer writes.
RELATION_PHRASES: dict[str, Relation] = {
    "is": Relation.is_,
    "is equal to": Relation.is_,
    "equals": Relation.is_,
    "is not": Relation.is_not,
    "isn't": Relation.is_not,
    "is not equal to": Relation.is_not,
    "is less than": Relation.lt,
    "is below": Relation.lt,
    "is under": Relation.lt,
    "is lower than": Relation.lt,
    "is younger than": Relation.lt,
    "is not greater than or equal to": Relation.lt,
    "is less than or equal to": Relation.le,
    "is at most": Relation.le,
    "is not greater than": Relation.le,
    "is not more than": Relation.le,
    "is not above": Relation.le,
    "is not older than": Relation.le,
    "is no more than": Relation.le,
    "is greater than": Relation.gt,
    "is above": Relation.gt,
    "is over": Relation.gt,
    "is higher than": Relation.gt,
    "is more than": Relation.gt,
    "is older than": Relation.gt,
    "is not less than or equal to": Relation.gt,
    "is greater than or equal to": Relation.ge,
    "is at least": Relation.ge,
    "is not less than": Relation.ge,
    "is not below": Relation.ge,
    "is not younger than": Relation.ge,
    "is no less than": Relation.ge,
}
# The longest setting or behaviour name: what the API accepts in a query is what ingest may store, so nothing stored
# is out of the API's reach.
MAX_LABEL_CHARS = 500

CANONICAL_PHRASE: dict[Relation, str] = {
    Relation.is_: "is",
    Relation.is_not: "is not",
    Relation.lt: "is less than",
    Relation.le: "is less than or equal to",
    Relation.gt: "is greater than",
    Relation.ge: "is greater than or equal to",
}
_RELATION_ALIASES: dict[str, Relation] = {
    **{k.removeprefix("is ") if k != "is" else k: v for k, v in RELATION_PHRASES.items()},
    **RELATION_PHRASES,
    "==": Relation.is_,
    "=": Relation.is_,
    "!=": Relation.is_not,
    "≤": Relation.le,
    "≥": Relation.ge,
    "lt": Relation.lt,
    "le": Relation.le,
    "gt": Relation.gt,
    "ge": Relation.ge,
}


def parse_relation(value: object) -> object:
    """Accept a relation as its symbol, its NormBank phrase or a paraphrase; leave anything else to pydantic."""
    if isinstance(value, str):
        key = " ".join(value.lower().split())
        return _RELATION_ALIASES.get(key, value)
    return value


class Kind(str, Enum):
    norm = "norm"
    rule_of_thumb = "rule_of_thumb"
    value = "value"
    right = "right"
    duty = "duty"


class ReviewState(str, Enum):
    """Only ``approved`` and ``trusted`` (ingested from a curated source) answer queries by default."""

    proposed = "proposed"
    approved = "approved"
    rejected = "rejected"
    trusted = "trusted"


class Valence(str, Enum):
    supports = "supports"
    opposes = "opposes"
    either = "either"


class ConceptScheme(str, Enum):
    setting = "setting"
    role = "role"
    behavior = "behavior"
    attribute = "attribute"
    attribute_value = "attribute_value"
    item = "item"
    moral_foundation = "moral_foundation"
    schwartz_value = "schwartz_value"
    situation = "situation"  # the free-text situations statements are written for (normgraph.situations)


_frozen = ConfigDict(frozen=True, extra="forbid")


class Constraint(BaseModel):
    """(subject, attribute, relation, value): e.g. (person, "age bracket", "<=", "teen").

    The attribute ``behavior`` on the person means "the actor is also doing …".
    """

    model_config = _frozen

    subject: Subject
    attribute: str = Field(min_length=1)
    relation: Relation = Relation.is_
    value: str = Field(min_length=1)

    @field_validator("relation", mode="before")
    @classmethod
    def _relation_words(cls, v: object) -> object:
        return parse_relation(v)

    @field_validator("attribute", "value", mode="before")
    @classmethod
    def _single_spaces(cls, v: object) -> object:
        return " ".join(v.split()) if isinstance(v, str) else v


class Frame(BaseModel):
    """A setting plus a conjunction of constraints."""

    model_config = _frozen

    setting: str | None = None
    constraints: tuple[Constraint, ...] = ()


class Provenance(BaseModel):
    """PROV-O: where a statement came from and who touched it."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(min_length=1, description="source dataset name, e.g. 'normbank', 'demo'")
    source_row: str | None = Field(None, description="row id or line number in the source file")
    source_file: str | None = None
    licence: str | None = None
    agreement: float | None = Field(None, ge=0.0, le=1.0, description="annotator agreement, 0..1")
    generated_by: str | None = Field(None, description="model that generated the statement, if any")
    reviewer: str | None = None
    created_at: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))
    inferred: dict[str, str] = Field(
        default_factory=dict,
        description="fields of the statement inferred rather than read from the source -> the method, e.g. "
        "moral_foundations -> 'MFD 2.0 lexicon match: care (hurt)'",
    )
    source_fields: dict[str, str | int | float | bool] = Field(
        default_factory=dict,
        description="columns of the source row the schema has no field for, kept verbatim, e.g. ETHICS "
        "commonsense is_short/edited, a PrivacyLens seed's source",
    )
    generation: dict[str, str | int | float | bool] = Field(
        default_factory=dict,
        description="for generated statements: how `generated_by` produced it — backend, prompt template "
        "(name@version), decoding parameters, seed, attempt — so a proposal can be reproduced",
    )


class Statement(BaseModel):
    """What every stored statement shares. Subclasses fix ``kind``."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    kind: Kind
    text: str = Field(min_length=1, description="the statement verbalised as one sentence")
    setting: str | None = None
    behavior: str | None = None
    situation: str | None = Field(None, description="free-text situation the statement was written for")
    country: str | None = None
    review_state: ReviewState = ReviewState.trusted
    provenance: Provenance


class Norm(Statement):
    """A judgment of a behaviour in a setting under a frame (NormBank rows, JSONL norms)."""

    kind: Literal[Kind.norm] = Kind.norm
    label: Label
    constraints: tuple[Constraint, ...] = ()
    split: str | None = Field(None, description="train/dev/test where the source has one")
    moral_foundations: tuple[str, ...] = Field(
        (), description="moral foundations the judged behaviour concerns (inferred ones are named in provenance.inferred)"
    )

    @property
    def frame(self) -> Frame:
        return Frame(setting=self.setting, constraints=self.constraints)


class RuleOfThumb(Statement):
    """A free-text rule with judgments along dimensions (Social-Chem-101)."""

    kind: Literal[Kind.rule_of_thumb] = Kind.rule_of_thumb
    label: Label | None = None
    action: str | None = None
    moral_foundations: tuple[str, ...] = ()
    judgments: dict[str, Any] = Field(default_factory=dict, description="dimension -> judgment")


class ValueRightDuty(Statement):
    """A pluralistic consideration attached to a situation (ValuePrism, UDHR, ETHICS)."""

    kind: Literal[Kind.value, Kind.right, Kind.duty]
    valence: Valence = Valence.either
    explanation: str | None = None


AnyStatement = Annotated[Union[Norm, RuleOfThumb, ValueRightDuty], Field(discriminator="kind")]


class Concept(BaseModel):
    """A SKOS concept in one of the schemes: settings, roles, behaviours, attribute values …"""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    scheme: ConceptScheme
    label: str = Field(min_length=1, description="skos:prefLabel")
    alt_labels: tuple[str, ...] = Field((), description="skos:altLabel")
    broader: tuple[str, ...] = Field((), description="ids of skos:broader concepts")
    related_settings: tuple[str, ...] = Field(
        (), description="ids of settings this role/behaviour/item occurs in"
    )
    attribute: str | None = Field(None, description="for attribute values: the attribute they belong to")
    subject: Subject | None = Field(None, description="for attributes: person/other or environment")
    definition: str | None = None
    provenance: Provenance


class StoreStats(BaseModel):
    statements: int
    by_kind: dict[str, int]
    by_source: dict[str, int]
    by_setting: dict[str, int]
    by_label: dict[str, int]
    concepts: dict[str, int]
