"""Embedding throughput on realistic norm sentences (8-25 words), and what the on-disk cache saves.

Sentences: NormBank-shaped norms verbalised by normgraph.verbalise (frames drawn from the real taxonomy, as in
bench/bank_155k.py) and real Social-Chem-101 rules of thumb, each 8-25 words. Prints sentences/s for:

- torch fp32 (sentence-transformers), batches in arrival order ("unsorted") and length-sorted (what
  CachedEmbedder and SentenceTransformer.encode do);
- the embedding cache: a second pass over the same texts (all hits);
- with --variants: every backend of ``normgraph.embed.open_embedder`` side by side — torch fp32, ONNX Runtime
  fp32 (``onnx``) and every int8 recipe of ONNX Runtime (``onnx-int8`` is the default recipe, ``token``; the
  others are ``rr`` and ``u8s8``, see normgraph.embed.model_files) — each with batch throughput, the latency
  of one short query on one thread (what a server worker pays per new question), cosine to torch's vectors,
  whether a text's vector depends on its batch, and recall@1/10 and MRR on the Social-Chem-101 retrieval
  benchmark (bench/retrieval_quality.py's queries and gold, exact search): a faster variant is only worth
  having if recall@10 holds within 1 point of torch fp32. Whether a recipe gives the same vectors on other
  CPUs is bench/cpu_determinism.py's question.

Usage: .venv/bin/python bench/embed_throughput.py [--n 3000] [--threads 2] [--variants [--recipes token,rr,u8s8]]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
SC101 = REPO.parent / "shared" / "data" / "social-chem-101"


def norm_sentences(n: int, seed: int = 5) -> list[str]:
    """n/2 verbalised NormBank-shaped norms + n/2 Social-Chem rules of thumb, 8-25 words each, shuffled."""
    import csv

    from bank_155k import make_csv
    from normgraph.frames.grammar import parse_frame
    from normgraph.verbalise import verbalise_norm

    label_of = {"expected": "expected", "normal": "okay", "taboo": "unexpected"}
    out: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "norms.csv"
        make_csv(path, n * 2, seed=seed)
        with path.open(newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                s = verbalise_norm(row["setting"], row["behavior"], parse_frame(row["constraints"]), label_of[row["norm"]])
                if 8 <= len(s.split()) <= 25:
                    out.append(s)
                if len(out) >= n // 2:
                    break
    rots: list[str] = []
    if SC101.is_dir():
        with (SC101 / "obligatory_sc101.csv").open(newline="", encoding="utf-8") as f:
            rots = [r["rot"] for r in csv.DictReader(f) if 8 <= len(r["rot"].split()) <= 25]
    out += rots[: n - len(out)]
    random.Random(seed).shuffle(out)
    return out


def rate(fn, texts: list[str], repeats: int = 2) -> float:
    fn(texts[:64])  # warm-up
    best = 0.0
    for _ in range(repeats):
        t = time.perf_counter()
        fn(texts)
        best = max(best, len(texts) / (time.perf_counter() - t))
    return best


def query_latency(encode, queries: list[str]) -> tuple[float, float]:
    """p50 and p99 in ms of encoding one query at a time."""
    encode(queries[:5])
    times = []
    for q in queries:
        t = time.perf_counter()
        encode([q])
        times.append(time.perf_counter() - t)
    ms = np.array(times) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def quality(embedder) -> dict[str, float]:
    """recall@10 and MRR on Social-Chem-101 (all situations vs all distinct rules), exact search. Rules are
    encoded in batches (as index builds do) and situations as the server encodes queries: alone when the
    embedder's vectors depend on their batch (int8), else in batches."""
    from normgraph.embed.base import batch_invariant

    from retrieval_quality import load, metrics

    rows, gold_texts, _ = load(SC101)
    docs = [r["rot"].strip() for r in rows]
    pos = {t: i for i, t in enumerate(docs)}
    situations = sorted(gold_texts)
    d = embedder.encode(docs)
    if batch_invariant(embedder):
        q = embedder.encode(situations)
    else:
        q = np.stack([embedder.encode([s])[0] for s in situations])
    ranked = []
    for i in range(0, len(q), 512):
        s = q[i : i + 512] @ d.T
        top = np.argpartition(-s, 10, axis=1)[:, :10]
        for row, cand in zip(s, top):
            ranked.append(cand[np.argsort(-row[cand])].tolist())
    return metrics(ranked, [{pos[t] for t in gold_texts[s]} for s in situations])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--variants", action="store_true", help="also ONNX Runtime fp32/int8, with recall on Social-Chem-101")
    ap.add_argument("--recipes", default="token,rr,u8s8", help="int8 recipes to measure with --variants")
    ap.add_argument("--no-torch", action="store_true",
                    help="skip torch (its vectors are onnx fp32's, so onnx becomes the baseline): on a loaded machine "
                    "torch's OpenMP threads slow to a crawl and take most of the run")
    ap.add_argument("--workdir", type=Path, default=REPO / "bench" / "out" / "embed")
    args = ap.parse_args()

    from normgraph.embed import open_embedder
    from normgraph.embed.cache import CachedEmbedder, EmbeddingCache

    texts = norm_sentences(args.n)
    words = [len(t.split()) for t in texts]
    print(f"{len(texts):,} sentences, {min(words)}-{max(words)} words (mean {np.mean(words):.1f}), {args.threads} threads, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
    emb = open_embedder(backend="onnx" if args.no_torch else "torch", threads=args.threads,
                        home=args.workdir / "home")
    fp32_rate = rate(emb.encode, texts)
    if not args.no_torch:
        model = emb._model  # the SentenceTransformer, to feed it batches in arrival order

        def unsorted(ts: list[str]) -> None:
            for i in range(0, len(ts), 64):
                model.encode(ts[i : i + 64], batch_size=64, normalize_embeddings=True)

        print(f"torch fp32, unsorted batches of 64:      {rate(unsorted, texts):7.0f} sentences/s")
    print(f"{'onnx' if args.no_torch else 'torch'} fp32, length-sorted batches of 64: {fp32_rate:7.0f} sentences/s")

    args.workdir.mkdir(parents=True, exist_ok=True)
    cache_path = args.workdir / "cache.sqlite"
    cache_path.unlink(missing_ok=True)
    cached = CachedEmbedder(emb, EmbeddingCache(cache_path))
    t = time.perf_counter()
    cached.encode(texts)
    first, first_encoded = time.perf_counter() - t, cached.encoded
    t = time.perf_counter()
    cached.encode(texts)
    second = time.perf_counter() - t
    print(f"embedding cache: first pass {first:.1f} s (encoded {first_encoded:,} distinct texts), second pass "
          f"{second * 1000:.0f} ms ({len(texts) / second:,.0f} sentences/s, encoded {cached.encoded - first_encoded})")

    if args.variants:
        if not SC101.is_dir():
            print(f"skip variants: Social-Chem-101 not found at {SC101}")
            return 0
        import csv

        with (SC101 / "optional_sc101.csv").open(newline="", encoding="utf-8") as f:
            queries = list(dict.fromkeys(r["situation"] for r in csv.DictReader(f)))[:300]
        home = args.workdir / "home"
        from normgraph.embed import onnx_cache_dir
        from normgraph.embed.base import batch_invariant
        from normgraph.embed.onnx import OnnxEmbedder

        def variant(name: str, threads: int):
            if name == "torch":
                return emb if threads == args.threads else open_embedder(backend="torch", threads=threads)
            if name == "onnx":
                return open_embedder(backend="onnx", home=home, threads=threads)
            return OnnxEmbedder(cache_dir=onnx_cache_dir(home), threads=threads, quantize=True,
                                int8_recipe=name.removeprefix("int8-"))

        names = [*([] if args.no_torch else ["torch"]), "onnx", *(f"int8-{r}" for r in args.recipes.split(",") if r)]
        print(f"\n{'variant':<12}{'sent/s':>8}{'1 query p50/p99 ms':>20}{'min cos ' + names[0]:>14}{'batch-inv':>10}"
              f"{'R@1':>7}{'R@10':>7}{'MRR':>7}")
        base_vecs = None
        base_quality = None
        for name in names:
            emb_b = variant(name, args.threads)
            r = fp32_rate if name == names[0] else rate(emb_b.encode, texts)
            one = variant(name, 1)
            p50, p99 = query_latency(one.encode, queries)
            vecs = emb_b.encode(texts[:1000])
            if base_vecs is None:
                base_vecs = vecs
            cos = float(np.min((vecs * base_vecs).sum(axis=1)))
            # Declared and observed: the same 64 texts alone and in one batch.
            alone = np.stack([emb_b.encode([t])[0] for t in texts[:64]])
            invariant = f"{'yes' if batch_invariant(emb_b) else 'no'}/{np.abs(alone - vecs[:64]).max():.0e}"
            m = quality(emb_b)
            if base_quality is None:
                base_quality = m
            verdict = "" if name == names[0] else (
                "  recall holds" if base_quality["R@10"] - m["R@10"] <= 0.01 else "  recall LOSES >1 point")
            print(f"{name:<12}{r:8.0f}{p50:12.2f} / {p99:5.2f}{cos:14.5f}{invariant:>10}{m['R@1']:7.3f}"
                  f"{m['R@10']:7.3f}{m['MRR']:7.3f}{verdict}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
