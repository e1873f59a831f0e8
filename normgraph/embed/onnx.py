"""The ONNX Runtime embedder: the same sentence-transformers model, exported once to ONNX and run without torch
on the query path. The only module that imports onnxruntime.

Why: on this project's 2-core machines one short query costs ~17 ms through torch + sentence-transformers and
~8 ms through ONNX Runtime for the *same* fp32 weights (per-call dispatch, not arithmetic, is most of the torch
time at 10-20 tokens). The fp32 export gives the torch vectors to within float rounding (cosine > 0.99999),
so it shares the torch embedder's ``model_id``: an index built by either answers queries embedded by the
other. ``quantize=True`` adds dynamic int8 weights (per channel): ~1.6x faster again, but a different vector
space (cosine to fp32 ~0.99), so it gets its own ``model_id`` and needs its own index build
(docs/decisions/0007-onnx-embedder.md).

The export needs torch and transformers once per model; it is written beside the bank
(``<home>/embeddings/onnx/<model id>/``) with an atomic rename, so concurrent server workers that both miss it
only waste the work, never read half a file. Supported: a Hugging Face encoder followed by mean or CLS pooling
(and optionally Normalize), which covers the sentence-transformers retrieval models; anything else is refused
with the fix (``NORMGRAPH_EMBEDDING_BACKEND=torch``).
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import tempfile
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from normgraph.embed.base import DEFAULT_MODEL, ModelIdentity
from normgraph.embed.model_files import resolve_model, vector_space_id
from normgraph.errors import InvalidInput

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import onnxruntime as ort  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402

log = logging.getLogger(__name__)

_FP32_FILE, _INT8_FILE = "model.onnx", "model-int8.onnx"
_BATCH = 64


def _pooling(model_dir: Path) -> str:
    """How a sentence-transformers directory pools (``mean`` or ``cls``; the output is always L2-normalised,
    as the ``Embedder`` protocol asks); refuses layouts this adapter cannot run."""
    modules_file = model_dir / "modules.json"
    if not modules_file.is_file():
        return "mean"  # a bare Hugging Face encoder: sentence-transformers would mean-pool it too
    modules = json.loads(modules_file.read_text())
    types = [m.get("type", "").rsplit(".", 1)[-1] for m in modules]
    if types[:2] != ["Transformer", "Pooling"] or any(t != "Normalize" for t in types[2:]):
        raise InvalidInput(
            f"cannot load embedding model from {model_dir} on ONNX Runtime, which runs Transformer + Pooling "
            f"(+ Normalize) models, not {types}: set NORMGRAPH_EMBEDDING_BACKEND=torch for it",
            {"model": str(model_dir), "modules": types},
        )
    pooling_dir = model_dir / modules[1].get("path", "1_Pooling")
    config = json.loads((pooling_dir / "config.json").read_text()) if (pooling_dir / "config.json").is_file() else {}
    if config.get("pooling_mode_cls_token"):
        pooling = "cls"
    elif config.get("pooling_mode_mean_tokens", True) and not any(
        config.get(k) for k in ("pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens", "pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken")
    ):
        pooling = "mean"
    else:
        raise InvalidInput(
            f"cannot load embedding model from {model_dir} on ONNX Runtime, which pools by mean or CLS token, "
            f"not as {pooling_dir}/config.json asks: set NORMGRAPH_EMBEDDING_BACKEND=torch for this model",
            {"model": str(model_dir)},
        )
    return pooling


def _max_length(model_dir: Path) -> int:
    cfg = model_dir / "sentence_bert_config.json"
    if cfg.is_file():
        value = json.loads(cfg.read_text()).get("max_seq_length")
        if value:
            return int(value)
    return 512


def _export(model_dir: Path, target: Path) -> list[str]:
    """Export the encoder to ``target`` (fp32, dynamic batch and sequence axes); returns its input names."""
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # a one-off export, often inside a server worker: no bar on its stderr
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = AutoModel.from_pretrained(str(model_dir)).eval()
        accepted = inspect.signature(model.forward).parameters
        names = ["input_ids", "attention_mask"]
        if "token_type_ids" in accepted and getattr(model.config, "type_vocab_size", 0):
            names.append("token_type_ids")

        class Encoder(torch.nn.Module):
            def __init__(self, inner: torch.nn.Module) -> None:
                super().__init__()
                self.inner = inner

            def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
                return self.inner(**dict(zip(names, inputs))).last_hidden_state

        example = tuple(torch.ones((2, 8), dtype=torch.int64) for _ in names)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        torch.onnx.export(
            Encoder(model), example, str(tmp), input_names=names, output_names=["hidden"],
            dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "hidden"]}, opset_version=17, dynamo=False,
        )
    os.replace(tmp, target)
    return names


def _quantize(fp32: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    # quantize_dynamic logs a "run pre-processing" hint through the root logger on every call.
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        quantize_dynamic(str(fp32), str(tmp), weight_type=QuantType.QInt8, per_channel=True)
    finally:
        root.setLevel(level)
    os.replace(tmp, target)


def _writable(directory: Path) -> Path:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / f".probe.{os.getpid()}"
        probe.touch()
        probe.unlink()
        return directory
    except OSError:  # a read-only bank (e.g. served from a read-only volume): export per process instead
        fallback = Path(tempfile.gettempdir()) / "normgraph-onnx" / directory.name
        fallback.mkdir(parents=True, exist_ok=True)
        log.warning("cannot write the ONNX export under %s; using %s", directory, fallback)
        return fallback


class OnnxEmbedder(ModelIdentity):
    """Mean- (or CLS-) pooled, L2-normalised sentence embeddings from ONNX Runtime on CPU.

    ``encode`` tokenises the whole call once, sorts it by token count and pads each batch only to its own
    longest text, so a call of mixed lengths does little padded work.

    With int8 weights ONNX Runtime quantises each layer's activations with one scale per batch, so a text's
    vector moves with its batch-mates (cosine 0.987-0.994 to the same text encoded alone). ``batch_invariant``
    is then False: queries are encoded alone (``normgraph.embed.batching``), so the same question always gets
    the same answer, while index builds keep batching for throughput — their vectors are written to the
    embedding cache once and every later build reuses them, so a rebuild does not move them. Recall on the
    benchmark is measured that way (bench/embed_throughput.py).
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        cache_dir: Path,
        threads: int | None = None,
        quantize: bool = False,
        batch_size: int = _BATCH,
    ) -> None:
        name, model_dir = resolve_model(model)
        self._pooling = _pooling(model_dir)
        tokenizer_file = model_dir / "tokenizer.json"
        if not tokenizer_file.is_file():
            raise InvalidInput(
                f"cannot load embedding model from {model_dir} on ONNX Runtime: it has no fast tokenizer "
                "(tokenizer.json); set NORMGRAPH_EMBEDDING_BACKEND=torch for this model",
                {"model": str(model_dir)},
            )
        self._id = vector_space_id(name, model_dir, int8=quantize)
        # One directory per fp32 model: the int8 file is derived from the fp32 export beside it.
        directory = _writable(Path(cache_dir) / vector_space_id(name, model_dir).replace("/", "_"))
        fp32 = directory / _FP32_FILE
        if not fp32.is_file():
            log.info("exporting %s to ONNX in %s (once per model)", name, directory)
            try:
                _export(model_dir, fp32)
            except Exception as e:
                raise InvalidInput(
                    f"cannot load embedding model from {model_dir} on ONNX Runtime: the export failed "
                    f"({type(e).__name__}: {e}); set NORMGRAPH_EMBEDDING_BACKEND=torch for this model",
                    {"model": str(model_dir)},
                ) from None
        path = fp32
        if quantize:
            path = directory / _INT8_FILE
            if not path.is_file():
                _quantize(fp32, path)

        self.batch_invariant = not quantize
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = max(1, threads or os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        # Idle intra-op threads spin by default, which steals the core from the other server worker.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self._inputs = [i.name for i in self._session.get_inputs()]
        self._dim = int(self._session.get_outputs()[0].shape[-1])

        self._tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=_max_length(model_dir))
        self.model_dir = model_dir
        self.path = path
        self.batch_size = batch_size

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.empty((len(texts), self._dim), dtype=np.float32)
        if not texts:
            return out
        encodings = self._tokenizer.encode_batch(list(texts))
        lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(encodings))
        order = np.argsort(-lengths, kind="stable")
        for start in range(0, len(order), self.batch_size):
            self._run(encodings, order[start : start + self.batch_size], out)
        return out

    def _run(self, encodings: list, idx: np.ndarray, out: np.ndarray) -> None:
        """Encode ``encodings[idx]`` (longest first) into ``out[idx]``."""
        width = max(len(encodings[i].ids) for i in idx)
        ids = np.zeros((len(idx), width), dtype=np.int64)
        mask = np.zeros((len(idx), width), dtype=np.int64)
        types = np.zeros((len(idx), width), dtype=np.int64)
        for row, i in enumerate(idx):
            e = encodings[i]
            n = len(e.ids)
            ids[row, :n] = e.ids
            mask[row, :n] = 1
            types[row, :n] = e.type_ids
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        hidden = self._session.run(None, {k: feed[k] for k in self._inputs})[0]
        if self._pooling == "cls":
            pooled = hidden[:, 0, :]
        else:
            m = mask[..., None].astype(np.float32)
            pooled = (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        out[idx] = pooled / np.maximum(norms, 1e-12)

    def __repr__(self) -> str:
        return f"OnnxEmbedder({self._id!r}, {self.path.name})"
