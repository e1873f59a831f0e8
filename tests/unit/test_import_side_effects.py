"""Importing normgraph changes nothing outside it: no module writes ``os.environ`` at import time (settings come
from the environment only at the entry points, DEVELOPERS / ADR 0010)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import REPO

# Imports every module of the three packages in a fresh interpreter and reports what the environment gained or
# lost; a subprocess, because this test run has long since imported them all. Third-party packages go first:
# some of them (torch) set variables of their own on import, which are not ours to police.
_PROBE = """
import importlib, json, os, pkgutil, sys
for dep in ("torch", "transformers", "sentence_transformers", "onnxruntime", "onnx", "tokenizers", "faiss", "bm25s",
            "Stemmer", "pyoxigraph", "huggingface_hub", "mcp", "langchain_core", "fastapi", "uvicorn", "numpy"):
    try:
        importlib.import_module(dep)
    except ImportError:
        pass
before = dict(os.environ)
failed = {}
for package in ("normgraph", "api", "ingest"):
    root = importlib.import_module(package)
    for info in pkgutil.walk_packages(root.__path__, package + "."):
        try:
            importlib.import_module(info.name)
        except ImportError as e:  # an optional extra that is not installed is not this test's concern
            failed[info.name] = str(e)
after = dict(os.environ)
changed = {k: [before.get(k), after.get(k)] for k in set(before) | set(after) if before.get(k) != after.get(k)}
print(json.dumps({"changed": changed, "failed": failed, "modules": len(sys.modules)}))
"""


def test_importing_every_module_leaves_the_environment_alone() -> None:
    # A minimal environment: this test process has long since imported everything, so what any module set is
    # already in os.environ here and would be inherited (OpenBLAS's variables stay: some CPUs need them).
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR") or k.startswith("OPENBLAS")}
    done = subprocess.run([sys.executable, "-c", _PROBE], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["changed"] == {}, f"modules wrote os.environ at import: {report['changed']}"
    assert not report["failed"], report["failed"]  # the dev install has every extra: all of them must import
