"""A normal (non-editable) install works: the wheel carries its package data, and the CLI runs from a folder
outside the checkout, with nothing of the repository on its path.

This builds the wheel the way a user or an index would (`pip wheel .`), installs it with its retrieval extra into
a fresh venv in a temporary folder, and runs `normgraph demo`, `query` and `retrieve` there. It is the check that
an editable install hides: files read relative to the source tree (the ontology once was) are missing from a
wheel.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow


def _run(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 900) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(args)} exited {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("wheel")
    # No variable of this checkout's venv or of the test run may leak into the clean one.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NORMGRAPH_", "VIRTUAL_ENV", "PYTHON"))}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    # Built from a copy: setuptools writes build/ and *.egg-info beside the sources it builds.
    source = root / "source"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "bench", "tests", "docs", "build", "*.egg-info", "__pycache__", ".pytest_cache", "test-artifacts",
    ))
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(root / "dist"), str(source)], root, env)
    wheels = list((root / "dist").glob("normgraph-*.whl"))
    assert len(wheels) == 1, wheels
    venv = root / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], root, env)
    # torch is pinned in the extra; the same pins as the checkout keep pip from resolving a CUDA build.
    _run([str(venv / "bin" / "pip"), "install", "-q", f"{wheels[0]}[retrieval]"], root, env, timeout=1500)
    return wheels[0], venv, env


def test_the_wheel_carries_the_ontology_and_the_demo_bank(installed: tuple[Path, Path, dict[str, str]]) -> None:
    wheel, _, _ = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "normgraph/ontology/normgraph.ttl",
        "normgraph/ontology/shapes.ttl",
        "normgraph/demo/bank.jsonl",
        "normgraph/demo/taxonomy.json",
        "normgraph/py.typed",
    ):
        assert needed in names, f"{needed} missing from {wheel.name}"
    assert not any(n.startswith("tests/") for n in names)


def test_demo_query_and_retrieve_run_from_an_installed_wheel(
    installed: tuple[Path, Path, dict[str, str]], tmp_path: Path
) -> None:
    _, venv, env = installed
    work = tmp_path / "elsewhere"  # outside the checkout: nothing of the source tree is importable from here
    work.mkdir()
    cli = str(venv / "bin" / "normgraph")
    home = ["--home", str(work / "home")]
    located = _run([str(venv / "bin" / "python"), "-c", "import normgraph; print(normgraph.__file__)"], work, env)
    assert str(REPO) not in located.stdout, located.stdout
    assert "site-packages" in located.stdout

    _run([cli, *home, "demo", "--no-progress"], work, env)
    query = _run(
        [cli, *home, "query", "--setting", "restaurant", "--fact", "[PERSON]'s role is 'customer'", "--json"], work, env
    )
    answer = json.loads(query.stdout)
    assert answer["setting"] == "restaurant"
    behaviors = {r["behavior"]: r for r in answer["results"]}
    # The demo bank's own norm: a customer shouting in a restaurant is unexpected, and it applies.
    assert (behaviors["shout"]["label"], behaviors["shout"]["basis"]) == ("unexpected", "applicable"), behaviors["shout"]

    found = _run([cli, *home, "retrieve", "my phone rings during a funeral", "-k", "3", "--json"], work, env)
    hits = json.loads(found.stdout)["results"]
    assert len(hits) == 3
    assert any("funeral" in h["text"].lower() for h in hits), hits
