"""The FAISS adapter on its own: every kind, filtered and unfiltered, against brute force in numpy."""

from __future__ import annotations

import numpy as np
import pytest

from normgraph.errors import InvalidInput
from normgraph.index.faiss_index import EXACT_MAX_ALLOWED, FaissVectors, choose_kind


def _unit(rng, n, d=32):
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _truth(x, q, k, allowed=None):
    s = x @ q
    if allowed is not None:
        s = np.where(allowed, s, -np.inf)
    return set(np.argsort(-s)[:k].tolist())


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
def test_search_matches_brute_force(kind, tmp_path):
    rng = np.random.default_rng(3)
    x = _unit(rng, 3000)
    v = FaissVectors.create(32, kind, training=x if kind == "ivf" else None)
    v.add(x)
    v.ef_search = 128
    v.nprobe = 128
    path = tmp_path / "v.faiss"
    v.save(path)
    loaded = FaissVectors.load(path, kind, mmap=True)
    loaded.ef_search, loaded.nprobe = 128, 128
    queries = _unit(rng, 20)
    recall = []
    for q in queries:
        _, pos = loaded.search(q, 10)
        recall.append(len(_truth(x, q, 10) & set(pos[0].tolist())) / 10)
    assert np.mean(recall) >= 0.95

    # Filtered: only even positions, and a very selective filter (exact path).
    for allowed in (np.arange(3000) % 2 == 0, np.isin(np.arange(3000), rng.choice(3000, 15, replace=False))):
        for q in queries[:5]:
            _, pos = loaded.search(q, 10, allowed)
            got = [p for p in pos[0].tolist() if p >= 0]
            assert all(allowed[p] for p in got)
            assert len(got) == min(10, int(allowed.sum()))
            if allowed.sum() <= EXACT_MAX_ALLOWED and kind != "ivf" or allowed.sum() < 100:
                assert set(got) == _truth(x, q, 10, allowed)


def test_nothing_allowed_and_empty_index():
    rng = np.random.default_rng(1)
    v = FaissVectors.create(32, "flat")
    _, pos = v.search(_unit(rng, 1)[0], 5)
    assert (pos == -1).all()
    v.add(_unit(rng, 10))
    _, pos = v.search(_unit(rng, 1)[0], 5, np.zeros(10, dtype=bool))
    assert (pos == -1).all()


def test_kind_choice_and_bad_kind():
    assert choose_kind(100) == "flat"
    assert choose_kind(155_000) == "hnsw"
    assert choose_kind(5_000_000) == "ivf"
    with pytest.raises(InvalidInput, match="unknown index kind"):
        FaissVectors.create(8, "annoy")  # type: ignore[arg-type]
