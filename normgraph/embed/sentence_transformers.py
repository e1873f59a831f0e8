"""The sentence-transformers embedder: the only module that imports sentence-transformers (and, with the ONNX
exporter, torch). Models are found offline by ``normgraph.embed.model_files``."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from sentence_transformers import SentenceTransformer

from normgraph.embed.base import DEFAULT_MODEL, ModelIdentity
from normgraph.embed.model_files import quiet_loading, resolve_model, vector_space_id
from normgraph.errors import InvalidInput

# Batches this small run on one thread: OpenMP's fork/join around each thin matrix product costs more than the
# second core gives (one query: ~25 ms on one thread, ~75 ms on two while the other core is busy).
_SINGLE_THREAD_MAX = 4


class SentenceTransformerEmbedder(ModelIdentity):
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
            # local_files_only: the directory is all there is; the hub is never asked (model_files).
            with quiet_loading():
                self._model = SentenceTransformer(str(model_dir), device=device, local_files_only=True)
        except Exception as e:  # noqa: BLE001 - a directory that is not a sentence-transformers model: InvalidInput
            raise InvalidInput(f"cannot load embedding model from {model_dir}: {e}", {"model": model}) from None
        self._model.eval()
        get_dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        dim = get_dim()
        if not dim:
            raise InvalidInput(f"embedding model {model!r} does not say its dimension", {"model": model})
        self._dim = int(dim)
        self._id = vector_space_id(name, model_dir)
        self.model_dir = model_dir
        self.batch_size = batch_size

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
