"""The ONNX Runtime embedder against the torch one, with the real model: fp32 is the same vector space, int8 is
its own, exports are made once and reused, and models it cannot run are refused with the fix."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from normgraph.embed import DEFAULT_MODEL, open_embedder
from normgraph.errors import InvalidInput
from normgraph.settings import Settings

TEXTS = [
    "I'm at my colleague's funeral and my phone rings",
    "In a restaurant, a toddler customer shouting is okay.",
    "Leave a tip.",
    "",  # only [CLS] [SEP]
    "word " * 600,  # past the model's 256-token limit: truncated the same way
    "Ünïcödé, emoji 🙂 and ‘quotes’ — all tokenised alike",
]


@pytest.fixture(scope="module")
def torch_model():
    return open_embedder(backend="torch", threads=1)


@pytest.fixture(scope="module")
def onnx_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("onnx-home")


@pytest.fixture(scope="module")
def onnx_model(onnx_home):
    return open_embedder(backend="onnx", home=onnx_home, threads=1)


def test_fp32_gives_the_torch_vectors_and_shares_their_model_id(torch_model, onnx_model):
    a, b = torch_model.encode(TEXTS), onnx_model.encode(TEXTS)
    assert b.shape == (len(TEXTS), 384) and b.dtype == np.float32
    assert np.allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-5)
    assert np.min((a * b).sum(axis=1)) > 0.9999
    # Same vector space, same id: an index built with one answers queries embedded by the other.
    assert onnx_model.model_id == torch_model.model_id
    # Batching (length-sorted, padded per batch) does not change a text's vector.
    one_by_one = np.stack([onnx_model.encode([t])[0] for t in TEXTS])
    assert np.allclose(one_by_one, b, atol=1e-5)
    assert onnx_model.encode([]).shape == (0, 384)


def test_int8_is_its_own_vector_space_close_to_fp32(torch_model, onnx_home):
    int8 = open_embedder(backend="onnx-int8", home=onnx_home, threads=1)
    # The recipe is part of the id: an index built with another recipe is rebuilt, not queried.
    assert int8.model_id == torch_model.model_id + "+onnx-int8-token"
    a, c = torch_model.encode(TEXTS[:3]), int8.encode(TEXTS[:3])
    cos = (a * c).sum(axis=1)
    assert np.all(cos > 0.95) and np.all(cos < 0.99999)  # close, but not the same vectors
    v = int8.encode(["It's rude to answer your phone at a funeral.", "Phones ringing at funerals is rude.", "Tax law."])
    assert v[0] @ v[1] > v[0] @ v[2]


def test_the_export_is_made_once_and_reused(onnx_model, onnx_home):
    exported = onnx_model.path
    assert exported.is_file() and exported.parent.parent == onnx_home / "embeddings" / "onnx"
    before = exported.stat().st_mtime_ns
    again = open_embedder(backend="onnx", home=onnx_home, threads=1)
    assert again.path == exported and exported.stat().st_mtime_ns == before
    assert not [p for p in exported.parent.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_models_it_cannot_run_are_refused_with_the_fix(torch_model, tmp_path):
    # A copy of the real model with a Dense layer after pooling: sentence-transformers runs it, ONNX must not.
    model_dir = tmp_path / "with-dense"
    shutil.copytree(torch_model.model_dir, model_dir, ignore=shutil.ignore_patterns("*.safetensors", "*.bin"))
    modules = json.loads((model_dir / "modules.json").read_text())
    modules.insert(2, {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"})
    (model_dir / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(InvalidInput, match="NORMGRAPH_EMBEDDING_BACKEND=torch") as e:
        open_embedder(str(model_dir), backend="onnx", home=tmp_path / "h")
    assert "Dense" in e.value.message

    no_tokenizer = tmp_path / "no-tokenizer"
    shutil.copytree(torch_model.model_dir, no_tokenizer, ignore=shutil.ignore_patterns("tokenizer.json", "*.safetensors"))
    with pytest.raises(InvalidInput, match="tokenizer.json"):
        open_embedder(str(no_tokenizer), backend="onnx", home=tmp_path / "h")


def test_unknown_backends_are_clear_errors():
    with pytest.raises(InvalidInput, match="unknown embedding backend 'tensorflow'"):
        open_embedder(backend="tensorflow")
    with pytest.raises(Exception, match="embedding_backend"):
        Settings.from_env({"NORMGRAPH_EMBEDDING_BACKEND": "tensorflow"})
    assert Settings.from_env({}).embedding_backend == "onnx-int8"
    assert Settings.from_env({"NORMGRAPH_EMBEDDING_BACKEND": "torch"}).embedding_backend == "torch"


def test_exports_of_a_model_a_user_configures_by_path(torch_model, tmp_path):
    # Any sentence-transformers directory works, not just the packaged default: here, a copy under a new name.
    copy = tmp_path / "my-minilm"
    shutil.copytree(torch_model.model_dir, copy)
    emb = open_embedder(str(copy), backend="onnx", home=tmp_path / "h", threads=1)
    assert emb.model_id.startswith("my-minilm@")
    assert float(emb.encode(TEXTS[:1])[0] @ torch_model.encode(TEXTS[:1])[0]) > 0.9999
    assert os.access(emb.path, os.R_OK)


def test_int8_vectors_do_not_depend_on_their_batch(onnx_home):
    from concurrent.futures import ThreadPoolExecutor

    from normgraph.embed.base import batch_invariant
    from normgraph.embed.batching import QueryBatcher

    int8 = open_embedder(backend="onnx-int8", home=onnx_home, threads=1)
    queries = [t for t in TEXTS if t.strip()][:4] + [f"is it rude to eat on the bus, case {i}" for i in range(12)]
    alone = np.stack([int8.encode([q])[0] for q in queries])
    # Per-token activation scales: a text's vector is bit for bit the same whatever it is batched (and padded)
    # with, so concurrent queries may share a batch.
    assert batch_invariant(int8)
    assert np.array_equal(int8.encode(queries), alone)
    assert np.array_equal(int8.encode(queries[::-1])[::-1], alone)
    batcher = QueryBatcher(int8, wait_ms=50)
    with ThreadPoolExecutor(16) as pool:
        got = np.stack(list(pool.map(batcher.encode_one, queries)))
    assert np.array_equal(got, alone)
    assert batcher.batches < len(queries)


def test_per_batch_int8_queries_are_encoded_alone_so_answers_do_not_depend_on_other_traffic(onnx_home):
    from concurrent.futures import ThreadPoolExecutor

    from normgraph.embed import onnx_cache_dir
    from normgraph.embed.base import batch_invariant
    from normgraph.embed.batching import QueryBatcher
    from normgraph.embed.onnx import OnnxEmbedder

    rr = OnnxEmbedder(cache_dir=onnx_cache_dir(onnx_home), threads=1, quantize=True, int8_recipe="rr")
    assert rr.model_id.endswith("+onnx-int8-rr")
    queries = [t for t in TEXTS if t.strip()][:4] + [f"is it rude to eat on the bus, case {i}" for i in range(12)]
    alone = np.stack([rr.encode([q])[0] for q in queries])
    # One activation scale per batch: encoded together, the same texts come out different.
    assert not batch_invariant(rr)
    assert not np.array_equal(rr.encode(queries), alone)
    batcher = QueryBatcher(rr, wait_ms=50)
    with ThreadPoolExecutor(16) as pool:
        got = np.stack(list(pool.map(batcher.encode_one, queries)))
    assert np.array_equal(got, alone)
    assert batcher.batches == len(queries)


def test_the_model_id_is_known_without_loading_the_model(torch_model, onnx_model, onnx_home):
    from normgraph.embed.model_files import model_id_of

    assert model_id_of(DEFAULT_MODEL, "torch") == torch_model.model_id
    assert model_id_of(DEFAULT_MODEL, "onnx") == onnx_model.model_id
    int8 = open_embedder(backend="onnx-int8", home=onnx_home, threads=1)
    assert model_id_of(DEFAULT_MODEL, "onnx-int8") == int8.model_id
