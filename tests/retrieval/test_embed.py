"""The embedder, its on-disk cache and query micro-batching, with the real model."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from normgraph.embed import DEFAULT_MODEL, open_embedder
from normgraph.embed.batching import QueryBatcher
from normgraph.embed.cache import CachedEmbedder, EmbeddingCache, text_hash
from normgraph.errors import InvalidInput


def test_default_model_gives_unit_vectors(model):
    assert model.dim == 384
    assert model.model_id.startswith(DEFAULT_MODEL + "@")
    v = model.encode(["In a restaurant, a toddler customer shouting is okay.", "Kids yell at dinner sometimes.", "Tax law."])
    assert v.shape == (3, 384) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2]  # the paraphrase is nearer than the unrelated text
    assert model.encode([]).shape == (0, 384)


def test_unknown_models_are_clear_errors(tmp_path):
    with pytest.raises(InvalidInput, match="not found"):
        open_embedder("no-such-org/no-such-model")
    with pytest.raises(InvalidInput, match="must not be empty"):
        open_embedder("   ")
    (tmp_path / "notamodel").mkdir()
    (tmp_path / "notamodel" / "readme.txt").write_text("hello")
    with pytest.raises(InvalidInput, match="cannot load"):
        open_embedder(str(tmp_path / "notamodel"))


def test_cache_encodes_each_text_once(model, tmp_path):
    cache = EmbeddingCache(tmp_path / "cache.sqlite")
    cached = CachedEmbedder(model, cache)
    texts = ["a rule", "another rule", "a rule"]
    first = cached.encode(texts)
    assert cached.encoded == 2  # the repeated text is encoded once
    assert np.array_equal(first[0], first[2])
    again = CachedEmbedder(model, EmbeddingCache(tmp_path / "cache.sqlite")).encode(texts)
    assert np.array_equal(first, again)
    assert cache.count(model.model_id) == 2 and cache.count("other-model") == 0
    assert text_hash("a rule") != text_hash("a rule ")  # any change to the text is another embedding
    # A vector of the wrong width (another model written under this id) is re-encoded, not trusted.
    cache.put_many(model.model_id, [(text_hash("odd"), np.zeros(8, dtype=np.float32))])
    fresh = CachedEmbedder(model, cache)
    fresh.encode(["odd"])
    assert fresh.encoded == 1


def test_concurrent_queries_are_batched_and_exact(tmp_path):
    # An embedder whose vectors do not depend on their batch-mates (fp32); int8's queries are encoded alone
    # (tests/retrieval/test_onnx_embed.py).
    model = open_embedder(backend="onnx", home=tmp_path, threads=1)
    batcher = QueryBatcher(model, wait_ms=50)
    queries = [f"is it rude to eat on the bus, case {i}" for i in range(16)]
    expected = model.encode(queries)
    with ThreadPoolExecutor(16) as pool:
        got = list(pool.map(batcher.encode_one, queries))
    assert np.allclose(np.stack(got), expected, atol=1e-4)
    assert batcher.encoded == 16 and batcher.batches < 16
