"""Is a proposal already in the bank? Nearest stored norms by embedding similarity, through the retrieval
service's own encoder and index (no second model is loaded).

Every review state counts: a proposal equal to one waiting for review, or to one a curator rejected, is as
much a duplicate as one equal to a trusted norm. A near neighbour with a *different* label is not a
duplicate: "X is okay" and "X is unexpected" embed almost alike, and a proposal that contradicts a stored
norm is exactly what a curator should see — it is kept, and the neighbour is named as a conflict.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np

from normgraph.models import Kind, Label, Norm

if TYPE_CHECKING:
    from normgraph.retrieval import Retriever

# Verbalised norms of one behaviour under different frames ("a customer shouting" / "a toddler customer
# shouting") reach ~0.9 with all-MiniLM-L6-v2; restatements of one norm stay above this.
DEFAULT_THRESHOLD = 0.95
NEIGHBOURS = 5


@dataclass(frozen=True)
class Neighbour:
    id: str
    similarity: float
    label: Label | None
    review_state: str
    text: str


@dataclass(frozen=True)
class DedupVerdict:
    duplicate_of: Neighbour | None
    conflicts_with: Neighbour | None


def nearest_norms(retriever: "Retriever", vector: np.ndarray, k: int = NEIGHBOURS) -> list[Neighbour]:
    """The stored norms (any review state) most similar to ``vector``, most similar first."""
    index = retriever.index
    mask, count = index.allowed(kind=[Kind.norm.value])
    out = []
    for position, score in index.dense(vector, k, mask, count):
        statement = retriever.store.get_statement(index.ids[position])
        if isinstance(statement, Norm):
            out.append(Neighbour(statement.id, score, statement.label, statement.review_state.value, statement.text))
    return out


def check_duplicate(
    retriever: "Retriever", text: str, label: Label, threshold: float = DEFAULT_THRESHOLD
) -> tuple[DedupVerdict, np.ndarray]:
    """Whether a proposal's text is a stored norm with the same label (a duplicate) or a different one (a
    conflict); also the text's vector, for comparing the proposals of one batch with each other."""
    vector = retriever.query_vector(text)
    close = [n for n in nearest_norms(retriever, vector) if n.similarity >= threshold]
    same = next((n for n in close if n.label == label), None)
    other = next((n for n in close if n.label != label), None)
    return DedupVerdict(duplicate_of=same, conflicts_with=None if same else other), vector


def duplicate_within(
    vector: np.ndarray, label: Label, kept: Sequence[tuple[np.ndarray, Label]], threshold: float = DEFAULT_THRESHOLD
) -> int | None:
    """The position of an earlier proposal of the same run that this one repeats (same label), if any."""
    for i, (other, other_label) in enumerate(kept):
        if other_label == label and float(np.dot(vector, other)) >= threshold:
            return i
    return None
