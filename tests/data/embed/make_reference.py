"""Regenerate reference.npz and reference.json, the vectors tests/retrieval/test_encoder_drift.py compares the
encoder with: fp32 from torch (sentence-transformers, the model's own implementation) and the default int8
recipe's, both for the fixed texts below.

Run it only when the model or the int8 recipe changes on purpose (the model ids in reference.json must then
change too); never to make a failing drift test pass on a new CPU — that failure is what the test is for.

Usage: .venv/bin/python tests/data/embed/make_reference.py
"""

from __future__ import annotations

import json
import platform
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

TEXTS = [
    "should I give up my seat to an old lady on the bus",
    "On public transport, a passenger giving up their seat to a senior citizen is expected.",
    "my phone rings during a funeral",
    "At a funeral, a mourner using their phone during the service is unexpected.",
    "a guest wants to film the vows on their phone at a wedding",
    "In a library, a patron talking on the phone among the shelves is unexpected.",
    "In a restaurant, a toddler customer shouting is okay.",
    "In a diner, a customer leaving a tip for the waitress is expected.",
    "It's rude to interrupt someone while they are talking to you at dinner.",
    "You shouldn't spread rumors about your coworkers.",
    "It's good to help your friends when they are feeling down.",
    "Everyone has the right to freedom of opinion and expression.",
    "I'm at my colleague's funeral and my phone rings",
    "Is it okay to eat a sandwich in the library if nobody is around?",
    "Leave a tip.",
    "Tax law.",
    "",  # only [CLS] [SEP]
    "word " * 600,  # past the model's 256-token limit
    "Ünïcödé, emoji 🙂 and ‘quotes’ — all tokenised alike",
    "When my roommate keeps borrowing my clothes without asking, and then returns them dirty, am I wrong to be upset?",
]


def cpu_flags() -> list[str]:
    try:
        flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags"))
    except (OSError, StopIteration):
        return []
    return sorted(f for f in flags.split(":", 1)[1].split() if f.startswith(("avx", "fma")))


def main() -> int:
    import onnxruntime

    from normgraph.embed import DEFAULT_BACKEND, open_embedder

    torch_model = open_embedder(backend="torch", threads=1)
    with tempfile.TemporaryDirectory() as home:
        int8 = open_embedder(backend=DEFAULT_BACKEND, home=Path(home), threads=1)
        fp32, quantised = torch_model.encode(TEXTS), int8.encode(TEXTS)
    np.savez(HERE / "reference.npz", fp32=fp32.astype(np.float32), int8=quantised.astype(np.float32))
    meta = {
        "texts": TEXTS,
        "fp32_model_id": torch_model.model_id,
        "int8_backend": DEFAULT_BACKEND,
        "int8_model_id": int8.model_id,
        "generated_on": {"onnxruntime": onnxruntime.__version__, "machine": platform.machine(), "cpu_flags": cpu_flags()},
    }
    (HERE / "reference.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n")
    cos = (fp32 * quantised).sum(axis=1)
    print(f"wrote {HERE / 'reference.npz'}: {len(TEXTS)} texts; int8 cosine to fp32 min {cos.min():.5f} mean {cos.mean():.5f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
