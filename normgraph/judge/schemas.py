"""The judge's request and response: the one schema, used as is by the HTTP API, the CLI, the MCP tool and
the LangChain tool."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from normgraph.models import Constraint, Label

# Limits that keep one item cheap: the encoder reads at most 256 word pieces (about 1,000 characters) anyway.
MAX_BEHAVIOR_CHARS = 2000
MAX_NORM_CHARS = 1000
MAX_NORMS = 32
MAX_FACTS = 64
MAX_BATCH = 256

Method = Literal["supplied_norms", "frame_resolution", "retrieval", "model_prior"]
StageName = Method
EvidenceRelation = Literal["supplied", "applicable", "defeated", "conditional", "retrieved", "model"]


def _not_blank(value: str | None) -> str | None:
    if value is not None and not value.strip():
        raise ValueError("must not be blank")
    return value


class SuppliedNorm(BaseModel):
    """A norm the caller holds: its words, and optionally the label it gives the behaviour it is about (then
    the words need only name that behaviour: {"text": "eating with your hands", "label": "expected"})."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=MAX_NORM_CHARS)
    label: Label | None = None

    _check = field_validator("text")(_not_blank)


def parse_norm(text: str) -> str | SuppliedNorm:
    """A norm as a command line or a chat tool writes it: ``"expected: eating with your hands"`` is a norm with
    a label, anything else is the norm's words."""
    head, sep, rest = text.partition(":")
    if sep and rest.strip() and head.strip().lower() in {x.value for x in Label}:
        return SuppliedNorm(text=rest.strip(), label=Label(head.strip().lower()))
    return text


class JudgeRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"behavior": "shout", "setting": "restaurant", "facts": ["[PERSON]'s role is 'customer'"]},
                {"behavior": "I ate dinner with my hands", "norms": ["In this community it is expected to eat with your hands."]},
                {"behavior": "my phone rings during the funeral and I answer it"},
            ]
        },
    )

    behavior: str = Field(
        min_length=1, max_length=MAX_BEHAVIOR_CHARS,
        description=f"an action phrase ('shout') or a short free-text situation; at most {MAX_BEHAVIOR_CHARS} characters",
    )
    setting: str | None = Field(None, min_length=1, max_length=500, description="setting name or alias, e.g. 'restaurant'")
    facts: Annotated[list[str | Constraint], Field(max_length=MAX_FACTS)] | Annotated[str, Field(max_length=MAX_FACTS * 64)] | None = Field(
        None, description="what the caller asserts, as /v1/norms/query takes them: NormBank constraint strings and/or structured constraints"
    )
    norms: Annotated[list[str | SuppliedNorm], Field(max_length=MAX_NORMS)] | None = Field(
        None,
        description="the caller's own norms, followed over the bank's: strings ('It's rude to X') or "
        "{'text', 'label'?}; a norm that does not bear on the behaviour does not decide",
    )
    country: str | None = Field(None, min_length=1, max_length=100, description="where the behaviour happens")

    _check = field_validator("behavior", "setting", "country")(_not_blank)

    @field_validator("norms")
    @classmethod
    def _norm_strings(cls, norms: list[str | SuppliedNorm] | None) -> list[str | SuppliedNorm] | None:
        for n in norms or ():
            if isinstance(n, str) and (not n.strip() or len(n) > MAX_NORM_CHARS):
                raise ValueError(f"a norm must be a non-blank string of at most {MAX_NORM_CHARS} characters")
        return norms


class JudgeBatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[JudgeRequest] = Field(min_length=1, max_length=MAX_BATCH, description=f"1 to {MAX_BATCH} items")


class Scores(BaseModel):
    expected: float = Field(ge=0.0, le=1.0)
    okay: float = Field(ge=0.0, le=1.0)
    unexpected: float = Field(ge=0.0, le=1.0)


class Evidence(BaseModel):
    id: str | None = Field(None, description="the bank's statement id (cite it); null for supplied norms and the model")
    text: str
    label: Label | None = Field(None, description="what this piece of evidence says of the behaviour it is about")
    source: str | None = None
    relation: EvidenceRelation = Field(
        description="supplied (a caller's norm), applicable / defeated / conditional (frame resolution), "
        "retrieved (a neighbour found by retrieval), model (the judge's prior)"
    )
    relevance: float | None = Field(None, description="cosine similarity between the behaviour and this evidence")
    score: float | None = Field(
        None,
        description="supplied: probability that the behaviour carries out what the norm is about (rather than "
        "going against it); retrieved: its retrieval score; model: the prior's top score",
    )
    note: str | None = Field(None, description="how the judge read it, e.g. the norm's polarity and its cue")


class Conflict(BaseModel):
    stage: StageName
    ids: list[str] = Field(description="statement ids, or 'norm:<n>' for the n-th supplied norm")
    labels: list[Label]


class StageTrace(BaseModel):
    stage: StageName
    outcome: Literal["decided", "gave_way", "skipped"]
    reason: str


class JudgeResult(BaseModel):
    behavior: str
    label: Label
    scores: Scores = Field(description="probabilities of the three labels, summing to 1")
    method: Method = Field(description="the stage that decided")
    evidence: list[Evidence]
    conflicts: list[Conflict]
    trace: list[StageTrace] = Field(description="what each stage did, in order of authority")
    model: str = Field(description="the judge model (its card's name and embedding model)")


class JudgeBatchResult(BaseModel):
    results: list[JudgeResult]
