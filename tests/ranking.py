"""Checks that an expected first result wins by a real margin, not by a tie-break or by numeric noise.

A test that asserts "X comes first" is only a test of relevance if X would still come first after changes
that do not touch relevance: another CPU's rounding, another batch, another order of equal scores. Found the
hard way (docs/decisions/0007-onnx-embedder.md): one such assertion was decided by three exactly equal BM25
scores, sorted by id, plus a dense margin five times smaller than the drift of int8 vectors.

``margin_problem`` gives every result a best and a worst rank: dense cosines may each move by ``DENSE_NOISE``,
and equal BM25 scores may come in either order. The expected result must be first even at its worst ranks
against every other result at its best ranks, fused the way the retriever fuses them.
"""

from __future__ import annotations

from typing import Callable, Sequence

from normgraph.retrieval import DEFAULT_DENSE_WEIGHT, DEFAULT_LEXICAL_WEIGHT, DEFAULT_RRF_K, FUSION_DEPTH

# Far above what the encoder moves (max abs diff 1e-5 between CPUs, 0 between batches: ADR 0007) and below
# the margins relevance should be decided by.
DENSE_NOISE = 1e-3
# BM25 is the same arithmetic everywhere; this only has to catch scores that are equal but for rounding.
LEXICAL_NOISE = 1e-9

Scored = Sequence[tuple[str, float]]


def _bounds(scored: Scored, noise: float) -> dict[str, tuple[int, int]]:
    """id -> (best rank, worst rank) when each score may move by ``noise``."""
    out = {}
    for i, s in scored:
        better = sum(1 for j, t in scored if j != i and t - noise > s + noise)
        not_worse = sum(1 for j, t in scored if j != i and t + noise >= s - noise)
        out[i] = (1 + better, 1 + not_worse)
    return out


def margin_problem(expected: str, dense: Scored, lexical: Scored, mode: str = "hybrid") -> str | None:
    """Why ``expected`` is not first by a real margin in ``mode``, or None if it is. ``dense`` and ``lexical``
    are each ranking's (id, score) list, as deep as the retriever reads them for fusion."""
    d, lx = _bounds(dense, DENSE_NOISE), _bounds(lexical, LEXICAL_NOISE)
    if mode in ("dense", "lexical"):
        bounds = d if mode == "dense" else lx
        if expected not in bounds:
            return f"{expected} is not in the {mode} ranking"
        best, worst = bounds[expected]
        return None if worst == 1 else f"{expected} is {mode} rank {best}..{worst} within noise or ties"

    def fused(i: str, pick: int) -> float:
        s = 0.0
        if i in d:
            s += DEFAULT_DENSE_WEIGHT / (DEFAULT_RRF_K + d[i][pick])
        if i in lx:
            s += DEFAULT_LEXICAL_WEIGHT / (DEFAULT_RRF_K + lx[i][pick])
        return s

    worst = fused(expected, 1)
    rivals = sorted(((fused(i, 0), i) for i in {*d, *lx} - {expected}), reverse=True)
    if rivals and rivals[0][0] >= worst:
        score, rival = rivals[0]
        return (
            f"{expected} (dense ranks {d.get(expected)}, lexical ranks {lx.get(expected)}, fused at worst {worst:.4f}) "
            f"does not beat {rival} (dense {d.get(rival)}, lexical {lx.get(rival)}, fused at best {score:.4f})"
        )
    return None


def assert_clearly_first(
    search: Callable[[str], Scored], expected: str, first: str, mode: str = "hybrid"
) -> None:
    """``first`` (what the retriever put first) is ``expected``, and by a real margin. ``search(mode)`` gives
    the (id, score) ranking of the same query and filters in ``dense`` or ``lexical`` mode."""
    assert first == expected, f"{first} came first, not {expected}"
    dense = search("dense") if mode != "lexical" else []
    lexical = search("lexical") if mode != "dense" else []
    problem = margin_problem(expected, dense, lexical, mode)
    assert problem is None, f"first only by a tie or noise: {problem}"


def retriever_search(retriever, query: str, filters=None) -> Callable[[str], Scored]:
    def search(mode: str) -> Scored:
        return [(h.id, h.score) for h in retriever.retrieve(query, FUSION_DEPTH, filters, mode=mode).results]

    return search


def client_search(client, query: str, filters=None) -> Callable[[str], Scored]:
    def search(mode: str) -> Scored:
        body = {"query": query, "k": FUSION_DEPTH, "mode": mode, **({"filters": filters} if filters else {})}
        resp = client.post("/v1/retrieve", json=body)
        assert resp.status_code == 200, resp.text
        return [(r["id"], r["score"]) for r in resp.json()["results"]]

    return search
