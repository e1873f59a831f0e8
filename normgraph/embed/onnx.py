"""The ONNX Runtime embedder: the same sentence-transformers model, exported once to ONNX and run without torch
on the query path. The only module that imports onnxruntime.

Why: on this project's 2-core machines one short query costs ~17 ms through torch + sentence-transformers and
~8 ms through ONNX Runtime for the *same* fp32 weights (per-call dispatch, not arithmetic, is most of the torch
time at 10-20 tokens). The fp32 export gives the torch vectors to within float rounding (cosine > 0.99999),
so it shares the torch embedder's ``model_id``: an index built by either answers queries embedded by the
other. ``quantize=True`` adds int8 matrix products: faster again, but a different vector space (cosine to fp32
~0.995), so it gets its own ``model_id``, which names the recipe, and needs its own index build
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
import onnxruntime as ort
from tokenizers import Tokenizer

from normgraph.embed.base import DEFAULT_MODEL, ModelIdentity
from normgraph.embed.model_files import (
    DEFAULT_INT8_RECIPE,
    INT8_RECIPES,
    quiet_loading,
    resolve_model,
    vector_space_id,
)
from normgraph.errors import InvalidInput

log = logging.getLogger(__name__)

_FP32_FILE = "model.onnx"
# "u8s8" keeps the file name it had when it was the only recipe, so existing exports stay valid.
_INT8_FILES = {"token": "model-int8-token.onnx", "rr": "model-int8-rr.onnx", "u8s8": "model-int8.onnx"}
assert set(_INT8_FILES) == set(INT8_RECIPES)
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

    with warnings.catch_warnings(), quiet_loading():
        warnings.simplefilter("ignore")
        model = AutoModel.from_pretrained(str(model_dir), local_files_only=True).eval()
        accepted = inspect.signature(model.forward).parameters
        names = ["input_ids", "attention_mask"]
        if "token_type_ids" in accepted and int(getattr(model.config, "type_vocab_size", 0) or 0):
            names.append("token_type_ids")

        class Encoder(torch.nn.Module):
            def __init__(self, inner: torch.nn.Module) -> None:
                super().__init__()
                self.inner = inner

            def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
                return self.inner(**dict(zip(names, inputs, strict=True))).last_hidden_state

        example = tuple(torch.ones((2, 8), dtype=torch.int64) for _ in names)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        torch.onnx.export(
            Encoder(model), example, str(tmp), input_names=names, output_names=["hidden"],
            dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "hidden"]}, opset_version=17, dynamo=False,
        )
    os.replace(tmp, target)
    return names


def _quantize(fp32: Path, target: Path, recipe: str) -> None:
    """Write the int8 variant ``recipe`` of ``fp32`` to ``target``; see ``normgraph.embed.model_files`` for what
    each recipe gives and docs/decisions/0007-onnx-embedder.md for the measurements.

    All recipes quantise the weight matrices per output channel and the activations on the fly. Full-range
    (8-bit) weights make ONNX Runtime's u8 x s8 products CPU-dependent: without AVX-512 VNNI, MLAS adds pairs
    of products in int16 with saturation (2 * 255 * 127 > 32767), with VNNI it does not. 7-bit weights
    (``reduce_range``) keep every pair within int16, so the integer sums are exact everywhere."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    # quantize_dynamic logs a "run pre-processing" hint through the root logger on every call.
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        quantize_dynamic(
            str(fp32), str(tmp), weight_type=QuantType.QInt8, per_channel=True, reduce_range=recipe != "u8s8"
        )
    finally:
        root.setLevel(level)
    if recipe == "token":
        _scale_activations_per_token(tmp)
    os.replace(tmp, target)


def _scale_activations_per_token(path: Path) -> None:
    """Rewrite ``quantize_dynamic``'s activation quantisation in place from one scale per tensor (per batch) to
    one per token row: symmetric, ``q = round(x / s) + 128`` with ``s = max|x_row| / 127``.

    Why: with one scale per batch a text's vector depends on what it is batched with (cosine 0.98-0.99 to the
    same text alone), so queries had to be encoded one at a time. A row's scale depends only on that row, so
    vectors are bit for bit the same in any batch, and the finer scales are also closer to fp32 (mean cosine
    0.995 against 0.991). The sum stays exact on every CPU: activations are 1..255 and weights -64..64, so a
    pair of products is at most 2 * 255 * 64 = 32640 < 2**15.

    The row scale is applied after the weight scale, by its own Mul: ONNX Runtime's MatMulIntegerToFloat
    fusion takes the activation scale feeding ``Mul(a_scale, b_scale)`` as one number, and silently reads a
    per-row one wrong (cosine 0.65 to fp32)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    weights = {i.name: i for i in graph.initializer}
    for n in graph.node:
        if n.op_type == "MatMulInteger":
            w = numpy_helper.to_array(weights[n.input[1]])
            if w.dtype != np.int8 or w.min() < -64 or w.max() > 64:
                raise RuntimeError(f"{n.name}: weights outside -64..64 would saturate int16 pairs on AVX2 CPUs")
    graph.initializer.extend([
        numpy_helper.from_array(np.array(127.0, np.float32), "tok_levels"),
        numpy_helper.from_array(np.array(1e-12, np.float32), "tok_tiny"),
        numpy_helper.from_array(np.array(128.0, np.float32), "tok_zp_f"),
        numpy_helper.from_array(np.array(1.0, np.float32), "tok_lo"),
        numpy_helper.from_array(np.array(255.0, np.float32), "tok_hi"),
        numpy_helper.from_array(np.array(128, np.uint8), "tok_zp"),
    ])
    if opset >= 18:  # ReduceMax takes its axes as an input from opset 18 on
        graph.initializer.append(numpy_helper.from_array(np.array([-1], np.int64), "tok_axes"))
    nodes: list = []
    row_scales: set[str] = set()
    for i, n in enumerate(graph.node):
        if n.op_type != "DynamicQuantizeLinear":
            nodes.append(n)
            continue
        (x,), (xq, xs, xzp), p = n.input, n.output, f"tok{i}_"
        reduce = (
            helper.make_node("ReduceMax", [p + "abs", "tok_axes"], [p + "max"], keepdims=1)
            if opset >= 18
            else helper.make_node("ReduceMax", [p + "abs"], [p + "max"], axes=[-1], keepdims=1)
        )
        nodes += [
            helper.make_node("Abs", [x], [p + "abs"]),
            reduce,
            helper.make_node("Max", [p + "max", "tok_tiny"], [p + "maxe"]),  # an all-zero row: scale > 0
            helper.make_node("Div", [p + "maxe", "tok_levels"], [xs]),
            helper.make_node("Div", [x, xs], [p + "div"]),
            helper.make_node("Round", [p + "div"], [p + "round"]),
            helper.make_node("Add", [p + "round", "tok_zp_f"], [p + "shift"]),
            helper.make_node("Clip", [p + "shift", "tok_lo", "tok_hi"], [p + "clip"]),
            helper.make_node("Cast", [p + "clip"], [xq], to=TensorProto.UINT8),
            helper.make_node("Identity", ["tok_zp"], [xzp]),
        ]
        row_scales.add(xs)
    # Mul(row scale, weight scales) -> S; Mul(float(product), S) -> Y   becomes   Mul(Mul(float(product), weight
    # scales), row scale) -> Y, which the fusion handles correctly.
    combined: dict[str, tuple[str, str]] = {}
    for n in nodes:
        if n.op_type == "Mul" and len(set(n.input) & row_scales) == 1:
            row = next(x for x in n.input if x in row_scales)
            combined[n.output[0]] = (row, next(x for x in n.input if x != row))
    rewritten: list = []
    moved = 0
    for n in nodes:
        if n.output and n.output[0] in combined:
            continue
        scale = next((x for x in n.input if x in combined), None) if n.op_type == "Mul" else None
        if scale is None:
            rewritten.append(n)
            continue
        row, per_channel = combined[scale]
        product = next(x for x in n.input if x != scale)
        mid = n.output[0] + "_weight_scaled"
        rewritten += [
            helper.make_node("Mul", [product, per_channel], [mid], name=f"{n.name or mid}_weights"),
            helper.make_node("Mul", [mid, row], list(n.output), name=f"{n.name or mid}_rows"),
        ]
        moved += 1
    products = sum(n.op_type == "MatMulInteger" for n in rewritten)
    if not row_scales or not moved == len(combined) == products or set(combined) & {x for n in rewritten for x in n.input}:
        raise RuntimeError("unexpected quantize_dynamic graph: cannot move its activation scales to rows")
    del graph.node[:]
    graph.node.extend(rewritten)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


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

    ``int8_recipe`` picks how ``quantize=True`` quantises (``normgraph.embed.model_files.INT8_RECIPES``). The
    default, ``token``, scales activations per token, so vectors do not depend on their batch. The per-batch
    recipes (``rr``, ``u8s8``) say ``batch_invariant = False``: a text's vector moves with its batch-mates
    (cosine 0.98-0.99 to the same text alone), so their queries are encoded alone
    (``normgraph.embed.batching``).
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        cache_dir: Path,
        threads: int | None = None,
        quantize: bool = False,
        int8_recipe: str = DEFAULT_INT8_RECIPE,
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
        self._id = vector_space_id(name, model_dir, int8=int8_recipe if quantize else None)
        # One directory per fp32 model: the int8 file is derived from the fp32 export beside it.
        directory = _writable(Path(cache_dir) / vector_space_id(name, model_dir).replace("/", "_"))
        fp32 = directory / _FP32_FILE
        if not fp32.is_file():
            log.info("exporting %s to ONNX in %s (once per model)", name, directory)
            try:
                _export(model_dir, fp32)
            except Exception as e:  # noqa: BLE001 - any export failure becomes the one InvalidInput naming the fix
                raise InvalidInput(
                    f"cannot load embedding model from {model_dir} on ONNX Runtime: the export failed "
                    f"({type(e).__name__}: {e}); set NORMGRAPH_EMBEDDING_BACKEND=torch for this model",
                    {"model": str(model_dir)},
                ) from None
        path = fp32
        if quantize:
            path = directory / _INT8_FILES[int8_recipe]
            if not path.is_file():
                _quantize(fp32, path, int8_recipe)

        self.batch_invariant = not quantize or int8_recipe == "token"
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
        # One by one, not encode_batch: its thread pool makes `tokenizers` warn in every forked worker unless the
        # process sets TOKENIZERS_PARALLELISM, and on two busy cores it was no faster (3,000 norm sentences:
        # 0.32 s one by one, 0.33 s batched, of the ~6 s it takes to encode them).
        encodings = [self._tokenizer.encode(t) for t in texts]
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
