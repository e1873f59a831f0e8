"""The encoder gives the vectors it gave when tests/data/embed/reference.npz was made (by make_reference.py
beside it), on whatever CPU the tests run.

Why: an index built on one machine is queried on another (a bank is copied, a container moves). An int8
recipe whose arithmetic depends on the CPU — the earlier one saturated int16 sums without AVX-512 VNNI — mixes
two vector spaces under one model id, and rankings move with no error anywhere. Nothing else in the suite
would notice: the old recipe's vectors on an AVX2-only CPU were still at cosine 0.99 to fp32.

The tolerances come from measurements (docs/decisions/0007-onnx-embedder.md), emulating an AVX2-only CPU with
`qemu-x86_64 -cpu Haswell` against this AVX-512 VNNI machine, on the 4 texts of bench/cpu_determinism.py and
these 20:

- fp32 ONNX against torch: max abs diff ≤ 1e-4 (measured 1.7e-7 on one CPU, 8e-8 between CPUs);
- the default int8 recipe against its own stored vectors: max abs diff ≤ 1e-4 and cosine ≥ 0.99999 (measured
  9.9e-6 and > 0.999999 between CPUs, 0 between batchings), where the earlier recipe moved by 3.8e-2 (cosine
  0.969) between the same two CPUs;
- the default int8 recipe against fp32: cosine ≥ 0.98 for every text (measured min 0.9838, for the empty text;
  0.9897 over 1,000 norm sentences).

It needs no torch, so it also runs under qemu: `qemu-x86_64 -cpu Haswell .venv/bin/python -m pytest
tests/retrieval/test_encoder_drift.py -p no:cacheprovider` (needs the ONNX exports already made natively,
i.e. one native run first).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from normgraph.embed import DEFAULT_BACKEND, open_embedder

DATA = Path(__file__).resolve().parents[1] / "data" / "embed"
FP32_MAX_ABS = 1e-4
INT8_MAX_ABS = 1e-4
INT8_MIN_COS_SAME = 0.99999
INT8_MIN_COS_FP32 = 0.98


@pytest.fixture(scope="module")
def reference() -> dict:
    meta = json.loads((DATA / "reference.json").read_text())
    arrays = np.load(DATA / "reference.npz")
    return {**meta, "fp32": arrays["fp32"], "int8": arrays["int8"]}


def _report(got: np.ndarray, want: np.ndarray, texts: list[str]) -> str:
    diff = np.abs(got - want).max(axis=1)
    cos = (got * want).sum(axis=1)
    worst = int(np.argmax(diff))
    return f"worst text {texts[worst][:60]!r}: max abs diff {diff[worst]:.2e}, cosine {cos[worst]:.6f}"


def test_fp32_onnx_gives_the_reference_torch_vectors(reference):
    onnx = open_embedder(backend="onnx", threads=1)
    assert onnx.model_id == reference["fp32_model_id"]
    got = onnx.encode(reference["texts"])
    assert np.abs(got - reference["fp32"]).max() <= FP32_MAX_ABS, _report(got, reference["fp32"], reference["texts"])


def test_the_default_encoder_gives_its_reference_vectors_on_this_cpu(reference):
    model = open_embedder(threads=1)
    # Another recipe is another vector space with another id: regenerate the reference on purpose, then.
    assert (DEFAULT_BACKEND, model.model_id) == (reference["int8_backend"], reference["int8_model_id"])
    got = model.encode(reference["texts"])
    want = reference["int8"]
    assert np.abs(got - want).max() <= INT8_MAX_ABS, _report(got, want, reference["texts"])
    assert (got * want).sum(axis=1).min() >= INT8_MIN_COS_SAME, _report(got, want, reference["texts"])
    # Encoded one at a time (as a lone query is), each text gives the same vector too.
    alone = np.stack([model.encode([t])[0] for t in reference["texts"]])
    assert np.abs(alone - want).max() <= INT8_MAX_ABS, _report(alone, want, reference["texts"])


def test_the_default_encoder_stays_close_to_fp32(reference):
    got = open_embedder(threads=1).encode(reference["texts"])
    cos = (got * reference["fp32"]).sum(axis=1)
    assert cos.min() >= INT8_MIN_COS_FP32, _report(got, reference["fp32"], reference["texts"])
