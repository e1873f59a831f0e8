"""Does each encoder give the same vectors on every x86-64 CPU? Encodes the drift test's 20 fixed texts
(tests/data/embed/reference.json) with ONNX fp32 and every int8 recipe, in one batch and one at a time, and
saves them; a second run under another CPU model and --compare tell the difference.

The other CPUs are emulated with qemu-user (it runs the same venv python; ~1 min): `qemu-x86_64 -cpu Haswell`
is AVX2 without AVX-512 or VNNI. qemu 7.2's TCG implements no AVX-512, so the AVX-512 VNNI side is this
machine itself (check /proc/cpuinfo for avx512_vnni).

Usage:
  .venv/bin/python bench/cpu_determinism.py bench/out/cpu/native.npz          # exports the models once
  qemu-x86_64 -cpu Haswell .venv/bin/python bench/cpu_determinism.py bench/out/cpu/haswell.npz
  .venv/bin/python bench/cpu_determinism.py --compare bench/out/cpu/native.npz bench/out/cpu/haswell.npz
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
REFERENCE = REPO / "tests" / "data" / "embed" / "reference.json"


def encode(out: Path, home: Path) -> None:
    from normgraph.embed import onnx_cache_dir, open_embedder
    from normgraph.embed.model_files import INT8_RECIPES
    from normgraph.embed.onnx import OnnxEmbedder

    texts = json.loads(REFERENCE.read_text())["texts"]
    variants = {"fp32": open_embedder(backend="onnx", home=home, threads=1)}
    for recipe in INT8_RECIPES:
        variants[recipe] = OnnxEmbedder(cache_dir=onnx_cache_dir(home), threads=1, quantize=True, int8_recipe=recipe)
    arrays = {}
    for name, emb in variants.items():
        arrays[name] = emb.encode(texts)
        arrays[name + "-alone"] = np.stack([emb.encode([t])[0] for t in texts])
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, **arrays)
    print(f"wrote {out}: {', '.join(arrays)}")


def compare(a_path: Path, b_path: Path) -> None:
    a, b = np.load(a_path), np.load(b_path)
    print(f"{'variant':<14}{'bit-identical':>14}{'max abs diff':>14}{'min cosine':>12}"
          f"{'   batch vs alone (max abs, ' + a_path.stem + ')'}")
    for name in [k for k in a.files if not k.endswith("-alone")]:
        x, y = a[name], b[name]
        batch = np.abs(a[name] - a[name + "-alone"]).max()
        print(f"{name:<14}{str(np.array_equal(x, y)):>14}{np.abs(x - y).max():14.2e}{(x * y).sum(axis=1).min():12.6f}"
              f"{batch:14.2e}")
        x, y = a[name + "-alone"], b[name + "-alone"]
        print(f"{name + ' alone':<14}{str(np.array_equal(x, y)):>14}{np.abs(x - y).max():14.2e}"
              f"{(x * y).sum(axis=1).min():12.6f}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path, nargs="?")
    ap.add_argument("--compare", nargs=2, type=Path, metavar=("A", "B"))
    ap.add_argument("--home", type=Path, default=REPO / "bench" / "out" / "cpu" / "home")
    args = ap.parse_args()
    if args.compare:
        compare(*args.compare)
    elif args.out:
        encode(args.out, args.home)
    else:
        ap.error("give an output file or --compare A B")
    return 0


if __name__ == "__main__":
    sys.exit(main())
