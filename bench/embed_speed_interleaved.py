"""Batch throughput and one-query latency of fp32 ONNX and every int8 recipe, measured in interleaved rounds so
that all variants share whatever else the machine is doing (on a shared 2-core machine, one variant measured
after another mostly measures the neighbours' load). Prints each round and the best of the rounds.

Usage: .venv/bin/python bench/embed_speed_interleaved.py [--n 1000] [--queries 150] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

from embed_throughput import norm_sentences, query_latency, rate  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--queries", type=int, default=150)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--home", type=Path, default=REPO / "bench" / "out" / "embed" / "home")
    args = ap.parse_args()

    from normgraph.embed import onnx_cache_dir, open_embedder
    from normgraph.embed.model_files import INT8_RECIPES
    from normgraph.embed.onnx import OnnxEmbedder

    def make(name: str, threads: int):
        if name == "onnx":
            return open_embedder(backend="onnx", home=args.home, threads=threads)
        return OnnxEmbedder(cache_dir=onnx_cache_dir(args.home), threads=threads, quantize=True, int8_recipe=name)

    texts = norm_sentences(args.n)
    queries = texts[: args.queries]
    names = ["onnx", *INT8_RECIPES]
    two = {n: make(n, 2) for n in names}
    one = {n: make(n, 1) for n in names}
    print(f"{len(texts)} sentences, {len(queries)} single queries, load average {os.getloadavg()[0]:.1f} at start")
    best = {n: (0.0, float("inf")) for n in names}
    for r in range(args.rounds):
        for n in names:
            s = rate(two[n].encode, texts, repeats=1)
            p50, _ = query_latency(one[n].encode, queries)
            best[n] = (max(best[n][0], s), min(best[n][1], p50))
            print(f"round {r}  {n:<6} {s:6.0f} sentences/s  one query p50 {p50:5.2f} ms", flush=True)
    print(f"load average {os.getloadavg()[0]:.1f} at the end; best of {args.rounds}:")
    for n, (s, p50) in best.items():
        print(f"  {n:<6} {s:6.0f} sentences/s  one query p50 {p50:5.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
