"""Embedding throughput on realistic norm sentences (8-25 words), and what the on-disk cache saves.

Sentences: NormBank-shaped norms verbalised by normgraph.verbalise (frames drawn from the real taxonomy, as in
bench/bank_155k.py) and real Social-Chem-101 rules of thumb, each 8-25 words. Prints sentences/s for:

- torch fp32 (sentence-transformers), batches in arrival order ("unsorted") and length-sorted (what
  CachedEmbedder and SentenceTransformer.encode do);
- the embedding cache: a second pass over the same texts (all hits);
- with --variants: ONNX Runtime fp32 and dynamic int8 (per-channel weights), each with its recall@10 and MRR
  on the Social-Chem-101 retrieval benchmark (bench/retrieval_quality.py's queries and gold) next to torch
  fp32's — a faster variant is only worth having if recall holds (within 1 point). Needs `pip install onnx
  onnxruntime` (not a dependency of normgraph).

Usage: .venv/bin/python bench/embed_throughput.py [--n 3000] [--threads 2] [--variants]
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


class OnnxEmbedder:
    """all-MiniLM-L6-v2 exported to ONNX and run by ONNX Runtime: mean pooling + L2 norm, as the torch path."""

    def __init__(self, onnx_path: Path, model_dir: Path, threads: int) -> None:
        import onnxruntime as ort
        from transformers import AutoTokenizer

        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.tok = AutoTokenizer.from_pretrained(str(model_dir))

    def encode(self, texts: list[str], batch: int = 64) -> np.ndarray:
        order = np.argsort([-len(t) for t in texts])
        out = np.empty((len(texts), 384), dtype=np.float32)
        for i in range(0, len(texts), batch):
            idx = order[i : i + batch]
            b = self.tok([texts[j] for j in idx], padding=True, truncation=True, max_length=256, return_tensors="np")
            h = self.session.run(None, {k: b[k].astype(np.int64) for k in self.inputs})[0]
            m = b["attention_mask"][..., None].astype(np.float32)
            e = (h * m).sum(1) / m.sum(1)
            out[idx] = e / np.linalg.norm(e, axis=1, keepdims=True)
        return out


def export_onnx(model_dir: Path, work: Path) -> tuple[Path, Path]:
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel, AutoTokenizer

    fp32, int8 = work / "minilm.onnx", work / "minilm-int8.onnx"
    if not fp32.exists():
        model = AutoModel.from_pretrained(str(model_dir)).eval()
        enc = AutoTokenizer.from_pretrained(str(model_dir))(["an example sentence"], return_tensors="pt")

        class Wrapper(torch.nn.Module):
            def __init__(self, m):
                super().__init__()
                self.m = m

            def forward(self, a, b, c):
                return self.m(input_ids=a, attention_mask=b, token_type_ids=c).last_hidden_state

        names = ["input_ids", "attention_mask", "token_type_ids"]
        torch.onnx.export(
            Wrapper(model), tuple(enc[k] for k in names), str(fp32), input_names=names, output_names=["h"],
            dynamic_axes={k: {0: "b", 1: "s"} for k in [*names, "h"]}, opset_version=17, dynamo=False,
        )
    if not int8.exists():
        quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8, per_channel=True)
    return fp32, int8


def quality(encode) -> dict[str, float]:
    """recall@10 and MRR on Social-Chem-101 (all situations vs all distinct rules), exact search."""
    from retrieval_quality import load, metrics

    rows, gold_texts, _ = load(SC101)
    docs = [r["rot"].strip() for r in rows]
    pos = {t: i for i, t in enumerate(docs)}
    situations = sorted(gold_texts)
    d = encode(docs)
    q = encode(situations)
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
    ap.add_argument("--workdir", type=Path, default=REPO / "bench" / "out" / "embed")
    args = ap.parse_args()

    from normgraph.embed import open_embedder
    from normgraph.embed.cache import CachedEmbedder, EmbeddingCache

    texts = norm_sentences(args.n)
    words = [len(t.split()) for t in texts]
    print(f"{len(texts):,} sentences, {min(words)}-{max(words)} words (mean {np.mean(words):.1f}), {args.threads} threads, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
    emb = open_embedder(threads=args.threads)
    model = emb._model  # the SentenceTransformer, to feed it batches in arrival order

    def unsorted(ts: list[str]) -> None:
        for i in range(0, len(ts), 64):
            model.encode(ts[i : i + 64], batch_size=64, normalize_embeddings=True)

    print(f"torch fp32, unsorted batches of 64:      {rate(unsorted, texts):7.0f} sentences/s")
    fp32_rate = rate(emb.encode, texts)
    print(f"torch fp32, length-sorted batches of 64: {fp32_rate:7.0f} sentences/s")

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
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            print("skip variants: pip install onnx onnxruntime")
            return 0
        fp32_path, int8_path = export_onnx(emb.model_dir, args.workdir)
        base = quality(emb.encode)
        print(f"\n{'variant':<28}{'sent/s':>8}{'R@10':>8}{'MRR':>8}")
        print(f"{'torch fp32 (default)':<28}{fp32_rate:8.0f}{base['R@10']:8.3f}{base['MRR']:8.3f}")
        for name, path in (("onnxruntime fp32", fp32_path), ("onnxruntime int8 per-channel", int8_path)):
            ort_emb = OnnxEmbedder(path, emb.model_dir, args.threads)
            r = rate(ort_emb.encode, texts)
            m = quality(ort_emb.encode)
            verdict = "holds" if base["R@10"] - m["R@10"] <= 0.01 else "LOSES >1 point"
            print(f"{name:<28}{r:8.0f}{m['R@10']:8.3f}{m['MRR']:8.3f}   recall {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
