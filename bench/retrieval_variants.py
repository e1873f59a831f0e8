"""Retrieval variants side by side: stock MiniLM, all-mpnet-base-v2, fine-tuned MiniLMs, and a cross-encoder
re-ranking the top 50 — on two query sets, in one run, so the machine's load is the same for all of them.

Query sets (each query's gold = the texts written for it; splits by `normgraph/embed/splits.py`):

- ``sc-situations``: Social-Chem-101 situations of the *new* test split (SHA-256 first byte >= 153) against all
  10,722 distinct rules of thumb — the benchmark of bench/retrieval_quality.py on its new test split. The old
  test split (>= 51) contains the training situations of the tuned models and is not reported.
- ``sc-actions``: the actions written for those same test situations (Social-Chem-101's ``action`` column,
  "helping your friends when …"), same bank: free-text actions, as issue 8 puts it.
- ``ms-actions``: Moral Stories (../shared/data/moral-stories, its public *train* file; its dev/test are never
  used): both actions of each story ("Phil decides to …") against all of its distinct norms, for the stories
  whose norm falls in the test split by the same hash of the norm. Norms equal (case and punctuation aside) to a
  Social-Chem rule of a train situation are left out, so no gold text was a training positive. Another source,
  another writer: it checks that tuning on Social-Chem did not just learn that set.

Per variant: dense (exact inner product) and hybrid (BM25 fused by the shipped RRF: k=10, dense 2.5 : 1)
R@1 / R@10 / MRR, batch encode throughput (1,000 rules) and one-query encode latency (300 queries, one at a
time), all on one thread. The re-ranker scores [query, candidate] pairs of the hybrid top 50 of its base
variant on a sample of each query set; its row is compared with the base's on the same sample.

Usage:
  .venv/bin/python bench/retrieval_variants.py --variant stock=all-MiniLM-L6-v2 \\
      --variant mpnet=bench/out/models/mpnet/all-mpnet-base-v2 --variant tuned=normgraph-minilm-sc101 \\
      [--reranker bench/out/models/reranker --rerank-base tuned --rerank-sample 400] [--backend onnx]
  .venv/bin/python bench/retrieval_variants.py --train-reranker bench/out/models/reranker --rerank-base stock

Vectors are cached per model id in bench/out/variants/ (re-runs only re-measure speed).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import re
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

# Run as a script, bench/ is on the path: the benchmark of retrieval_quality.py supplies recall and fusion.
import retrieval_quality as rq
from retrieval_quality import metrics

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
SC101 = DATA / "social-chem-101"
MS = DATA / "moral-stories" / "norm_actions_train.jsonl"
FILES = ("obligatory_sc101.csv", "optional_sc101.csv")
OUT = REPO / "bench" / "out" / "variants"
DEPTH = 100
RERANK_DEPTH = 50


def _norm(t: str) -> str:
    return re.sub(r"[^a-z0-9 ]+", "", t.lower()).strip()


def load_sets(split: str = "test") -> tuple[dict[str, tuple[list[str], dict[str, set[int]]]], dict[str, list]]:
    """{set name: (corpus texts, {query: gold positions})} and the train-split pairs (for the re-ranker)."""
    from normgraph.embed.splits import split_of
    from normgraph.embed.train import Pair

    rules: list[str] = []
    where: dict[str, int] = {}
    sit_gold: dict[str, set[int]] = defaultdict(set)
    act_gold: dict[str, set[int]] = defaultdict(set)
    train_rules: set[str] = set()
    train_pairs: list[Pair] = []
    for name in FILES:
        with (SC101 / name).open(newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                rot, sit, act = row["rot"].strip(), row["situation"].strip(), row["action"].strip()
                if not rot or not sit:
                    continue
                if rot not in where:
                    where[rot] = len(rules)
                    rules.append(rot)
                side = split_of(sit)
                if side == "train":
                    train_rules.add(_norm(rot))
                    train_pairs.append(Pair(sit, rot, sit))
                if side == split:
                    sit_gold[sit].add(where[rot])
                    if act:
                        act_gold[act].add(where[rot])
    norms: list[str] = []
    nwhere: dict[str, int] = {}
    ms_gold: dict[str, set[int]] = defaultdict(set)
    with MS.open(encoding="utf-8") as f:
        for line in f:
            story = json.loads(line)
            norm = story["norm"].strip()
            if norm not in nwhere:
                nwhere[norm] = len(norms)
                norms.append(norm)
            if split_of(norm) != split or _norm(norm) in train_rules:
                continue
            for key in ("moral_action", "immoral_action"):
                if story.get(key, "").strip():
                    ms_gold[story[key].strip()].add(nwhere[norm])
    sets = {
        "sc-situations": (rules, dict(sit_gold)),
        "sc-actions": (rules, dict(act_gold)),
        "ms-actions": (norms, dict(ms_gold)),
    }
    return sets, {"train": train_pairs}


def sample(queries: list[str], n: int) -> list[str]:
    """A deterministic sample (by hash, not by position: the files are ordered by source)."""
    if not n or len(queries) <= n:
        return queries
    return sorted(queries, key=lambda q: hashlib.sha256(q.encode()).digest())[:n]


def top(qv: np.ndarray, dv: np.ndarray, k: int) -> list[list[int]]:
    out = []
    for s in range(0, len(qv), 512):
        sc = qv[s : s + 512] @ dv.T
        part = np.argpartition(-sc, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(sc, part, axis=1), axis=1, kind="stable")
        out.extend(np.take_along_axis(part, order, axis=1).tolist())
    return out


def fuse(dense: list[list[int]], lexical: list[list[int]], top_n: int = 10) -> list[list[int]]:
    """The shipped fusion (reciprocal rank, the retriever's default weights), as retrieval_quality.py computes it."""
    from normgraph.retrieval import DEFAULT_DENSE_WEIGHT, DEFAULT_LEXICAL_WEIGHT, DEFAULT_RRF_K

    return rq.fuse(dense, lexical, DEFAULT_RRF_K, DEFAULT_DENSE_WEIGHT, DEFAULT_LEXICAL_WEIGHT, top=top_n)


def encode_cached(embedder, texts: list[str]) -> np.ndarray:
    """Vectors through a per-text cache keyed by model id, so a sample of a set reuses a full run's vectors."""
    from normgraph.embed.cache import CachedEmbedder, EmbeddingCache

    OUT.mkdir(parents=True, exist_ok=True)
    cache = EmbeddingCache(OUT / "cache.sqlite")
    try:
        return CachedEmbedder(embedder, cache).encode(texts)
    finally:
        cache.close()


def speed(embedder, rules: list[str], queries: list[str]) -> tuple[float, float, float]:
    """(batch sentences/s over 1,000 rules, one-query p50 ms, p99 ms over 300 queries)."""
    batch = sample(rules, 1000)
    embedder.encode(batch[:64])
    t = time.perf_counter()
    embedder.encode(batch)
    rate = len(batch) / (time.perf_counter() - t)
    lat = []
    for q in sample(queries, 300):
        t = time.perf_counter()
        embedder.encode([q])
        lat.append(1000 * (time.perf_counter() - t))
    lat.sort()
    return rate, lat[len(lat) // 2], lat[int(len(lat) * 0.99) - 1]


class Reranker:
    """A cross-encoder over [query, candidate] (normgraph.embed.train.train_reranker's output), on torch."""

    def __init__(self, path: Path) -> None:
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        torch.set_num_threads(1)
        self.torch = torch
        self.tok = AutoTokenizer.from_pretrained(str(path))
        self.model = AutoModelForSequenceClassification.from_pretrained(str(path)).eval()

    def rerank(self, query: str, texts: list[str]) -> list[int]:
        with self.torch.inference_mode():
            enc = self.tok([query] * len(texts), texts, padding=True, truncation=True, max_length=128, return_tensors="pt")
            scores = self.model(**enc).logits.view(-1).numpy()
        return np.argsort(-scores, kind="stable").tolist()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--variant", action="append", default=[], metavar="LABEL=MODEL", help="model name or path; repeat")
    ap.add_argument("--backend", default="onnx", choices=("onnx", "onnx-int8", "torch"))
    ap.add_argument("--max-queries", type=int, default=0, help="per query set (0 = all)")
    ap.add_argument("--reranker", type=Path, help="a cross-encoder folder to re-rank the top 50 with")
    ap.add_argument("--rerank-base", default="stock", help="the variant whose hybrid top 50 is re-ranked")
    ap.add_argument("--rerank-sample", type=int, default=400, help="queries per set for the re-ranker rows")
    ap.add_argument("--train-reranker", type=Path, help="train a cross-encoder into this folder and stop")
    ap.add_argument("--reranker-queries", type=int, default=1600)
    ap.add_argument("--reranker-layers", type=int, default=0, help="top layers to train (0 = all)")
    ap.add_argument("--bank-limit", type=int, default=0,
                    help="search only the first N texts of each bank (file order), with the queries whose gold is all "
                    "among them: for models too slow to encode a whole bank on a busy machine (0 = whole banks)")
    ap.add_argument("--sets", default="sc-situations,sc-actions,ms-actions", help="query sets, comma-separated")
    ap.add_argument("--split", default="test", choices=("dev", "test"), help="dev to choose recipes on, test to report")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    if not SC101.is_dir() or not MS.is_file():
        print(f"skip: Social-Chem-101 or Moral Stories not found under {DATA}")
        return 0
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from normgraph.embed import open_embedder
    from normgraph.index.lexical import LexicalIndex

    variants = dict(v.split("=", 1) for v in args.variant) or {"stock": "all-MiniLM-L6-v2"}
    print(f"load average at start: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    sets, extra = load_sets(args.split)
    print(f"split: {args.split}")
    home = REPO / "bench" / "out" / "variants-home"

    def embedder_for(model: str):
        return open_embedder(model, backend=args.backend, home=home, threads=1)

    if args.train_reranker:
        return train_reranker(args, sets, extra, embedder_for(variants[args.rerank_base]))

    sets = {k: v for k, v in sets.items() if k in args.sets.split(",")}
    if args.bank_limit:
        sets = {
            name: (corpus[: args.bank_limit], {q: g for q, g in gold.items() if max(g) < args.bank_limit})
            for name, (corpus, gold) in sets.items()
        }
    queries = {name: sample(sorted(gold), args.max_queries) for name, (_, gold) in sets.items()}
    for name, (corpus, _) in sets.items():
        print(f"{name}: {len(queries[name]):,} queries over {len(corpus):,} texts")
    lexical: dict[str, list[list[int]]] = {}
    for name, (corpus, _) in sets.items():
        lex = LexicalIndex.build(corpus)
        lexical[name] = [lex.search(q, DEPTH)[1].tolist() for q in queries[name]]

    results: list[dict] = []
    hybrid_top: dict[tuple[str, str], list[list[int]]] = {}
    for label, model in variants.items():
        t = time.perf_counter()
        emb = embedder_for(model)
        load_s = time.perf_counter() - t
        first = next(iter(sets))
        rate, p50, p99 = speed(emb, sets[first][0], queries[first])
        row = {"variant": label, "model_id": emb.model_id, "load_s": load_s, "rate": rate, "p50": p50, "p99": p99,
               "load_avg": os.getloadavg()[0]}
        for name, (corpus, gold) in sets.items():
            dv = encode_cached(emb, corpus)
            qv = encode_cached(emb, queries[name])
            dense = top(qv, dv, DEPTH)
            golds = [gold[q] for q in queries[name]]
            row[name] = {"dense": metrics(dense, golds), "hybrid": metrics(fuse(dense, lexical[name]), golds)}
            hybrid_top[(label, name)] = fuse(dense, lexical[name], RERANK_DEPTH)
        results.append(row)
        print(f"  {label}: done (load {os.getloadavg()[0]:.2f})", flush=True)
        del emb

    rerank_rows = []
    if args.reranker:
        rr = Reranker(args.reranker)
        for name, (corpus, gold) in sets.items():
            idx = [i for i, q in enumerate(queries[name]) if q in set(sample(queries[name], args.rerank_sample))]
            base = [hybrid_top[(args.rerank_base, name)][i] for i in idx]
            golds = [gold[queries[name][i]] for i in idx]
            lat, reranked = [], []
            for i, cand in zip(idx, base):
                t = time.perf_counter()
                order = rr.rerank(queries[name][i], [corpus[p] for p in cand])
                lat.append(1000 * (time.perf_counter() - t))
                reranked.append([cand[j] for j in order])
            lat.sort()
            rerank_rows.append({"set": name, "n": len(idx), "base": metrics([b[:10] for b in base], golds),
                                "reranked": metrics(reranked, golds), "p50": lat[len(lat) // 2],
                                "p99": lat[int(len(lat) * 0.99) - 1], "load_avg": os.getloadavg()[0]})

    head = "".join(f"{s + ' ' + m:>27}" for s in sets for m in ("dense", "hybrid"))
    print(f"\n{args.split} split: R@1 / R@10 / MRR ({args.backend}, exact dense search; hybrid = shipped RRF with BM25)")
    print(f"{'variant':<10}{head}{'enc/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'load':>6}")
    for r in results:
        cells = "".join(
            f"{r[s][m]['R@1']:>9.3f}{r[s][m]['R@10']:>9.3f}{r[s][m]['MRR']:>9.3f}" for s in sets for m in ("dense", "hybrid")
        )
        print(f"{r['variant']:<10}{cells}{r['rate']:>8.0f}{r['p50']:>8.1f}{r['p99']:>8.1f}{r['load_avg']:>6.1f}")
    for r in results:
        print(f"  {r['variant']}: {r['model_id']}")
    if rerank_rows:
        print(f"\nre-ranking the hybrid top {RERANK_DEPTH} of '{args.rerank_base}' with {args.reranker} (sampled queries, torch, 1 thread)")
        print(f"{'set':<15}{'n':>5}{'base R@1':>10}{'R@10':>7}{'MRR':>7}{'rerank R@1':>12}{'R@10':>7}{'MRR':>7}{'p50 ms':>8}{'p99 ms':>8}{'load':>6}")
        for r in rerank_rows:
            b, x = r["base"], r["reranked"]
            print(f"{r['set']:<15}{r['n']:>5}{b['R@1']:>10.3f}{b['R@10']:>7.3f}{b['MRR']:>7.3f}{x['R@1']:>12.3f}{x['R@10']:>7.3f}{x['MRR']:>7.3f}{r['p50']:>8.1f}{r['p99']:>8.1f}{r['load_avg']:>6.1f}")
    print(f"load average at end: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    if args.json:
        args.json.write_text(json.dumps({"variants": results, "rerank": rerank_rows}, indent=2))
    return 0


def train_reranker(args, sets, extra, embedder) -> int:
    """Hard negatives for train situations from the base variant's dense top 20, then the cross-encoder."""
    from normgraph.embed.train import train_reranker as train

    corpus, _ = sets["sc-situations"]
    where = {t: i for i, t in enumerate(corpus)}
    gold: dict[str, set[int]] = defaultdict(set)
    for p in extra["train"]:
        gold[p.query].add(where[p.positive])
    qs = sample(sorted(gold), args.reranker_queries)
    dv = encode_cached(embedder, corpus)
    ranked = top(embedder.encode(qs), dv, 20)
    groups = []
    for q, cand in zip(qs, ranked):
        negs = [corpus[c] for c in cand if c not in gold[q]][:7]
        groups.append((q, corpus[min(gold[q])], negs))
    report = train(groups, args.train_reranker, layers=args.reranker_layers or None, queries_per_batch=8, progress=True)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
