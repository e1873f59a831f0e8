"""What a frame query answers: per behaviour, the resolved label and the full trace (DESIGN §3)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from normgraph.models import Constraint, Label

Basis = Literal["applicable", "conditional", "none"]


class NormEvidence(BaseModel):
    """An applicable norm that was not defeated: it supports the answer."""

    id: str
    text: str
    label: Label
    setting: str | None
    frame: str = Field(description="the norm's constraints in NormBank grammar")
    constraints: list[Constraint]
    source: str
    weight: float = Field(description="its weight in the label distribution (agreement, default 1)")


class DefeatedNorm(BaseModel):
    """An applicable norm cancelled by a strictly more specific applicable norm with another label."""

    id: str
    text: str
    label: Label
    frame: str
    defeated_by: list[str]


class ConditionalNorm(BaseModel):
    """A norm none of whose constraints is violated but some are unknown: it "would hold if …"."""

    id: str
    text: str
    label: Label
    frame: str
    unknown: list[str] = Field(description="the constraints the facts leave unknown, in NormBank grammar")


class BehaviorResult(BaseModel):
    behavior: str
    label: Label | None = Field(description="the resolved label; null when no norm applies or conditionally applies")
    basis: Basis = Field(description="applicable: decided by applicable norms; conditional: only conditional ones")
    confidence: float = Field(ge=0.0, le=1.0)
    distribution: dict[str, float] = Field(description="label -> share of weight among the deciding norms")
    norms: list[NormEvidence]
    defeated: list[DefeatedNorm]
    conditional: list[ConditionalNorm]
    conflict: bool = Field(description="undefeated norms, none more specific than another, disagree")
    conflicts: list[tuple[str, str]] = Field(default_factory=list, description="pairs of conflicting norm ids")


class QueryResult(BaseModel):
    setting: str
    setting_chain: list[str] = Field(description="the query setting and its broader settings, nearest first")
    behavior: str | None = None
    facts: list[str] = Field(description="the caller's facts, normalised, in NormBank grammar")
    results: list[BehaviorResult]
    next_cursor: str | None = None
