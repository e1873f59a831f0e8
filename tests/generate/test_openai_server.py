"""The OpenAI-compatible backend against a real server on 127.0.0.1: ``transformers serve`` serving the same
converted SmolLM2 folder the in-process backend loads (offline; it needs the ``openai`` package, a dev
dependency)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from normgraph.generate.backends.base import DecodingParams
from normgraph.generate.backends.openai_http import OpenAIBackend
from normgraph.generate.prompts import FALLBACK_EXAMPLES, generate_messages
from normgraph.frames.grammar import parse_frame
from normgraph.services import NormBankService
from normgraph.settings import Settings
from tests.generate.conftest import copy_home
from tests.generate.test_backend_errors import closed_port

pytestmark = pytest.mark.slow

STARTUP_SECONDS = 240


@pytest.fixture(scope="module")
def served(smollm_folder: Path) -> Iterator[str]:
    exe = Path(sys.executable).with_name("transformers")
    if not exe.exists() and shutil.which("transformers") is None:
        pytest.skip("the transformers CLI is not installed")
    port = closed_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [str(exe), "serve", str(smollm_folder), "--host", "127.0.0.1", "--port", str(port), "--device", "cpu", "--log-level", "warning"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if proc.poll() is not None:
                pytest.fail(f"transformers serve exited: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}")
            try:
                if httpx.get(f"{base}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"transformers serve did not come up in {STARTUP_SECONDS} s")
            time.sleep(1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_n_completions_with_token_counts_from_a_server_that_returns_one_choice(served: str, smollm_folder: Path) -> None:
    backend = OpenAIBackend(served, str(smollm_folder), timeout=120)
    messages = generate_messages("library", "eat food", parse_frame("[PERSON]'s role is 'patron'"), FALLBACK_EXAMPLES)
    completions = backend.generate(messages, DecodingParams(max_new_tokens=40, seed=5), n=2)
    assert len(completions) == 2
    assert all(c.prompt_tokens > 0 and c.completion_tokens > 0 and c.text for c in completions)
    assert backend.model_id == f"{smollm_folder}@{served}"


def test_the_generator_runs_over_http(served: str, smollm_folder: Path, indexed_template: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    settings = Settings(
        home=copy_home(indexed_template, tmp_path_factory, "over-http"),
        generator_backend="openai",
        generator_base_url=served,
        generator_model=str(smollm_folder),
        generator_timeout=120,
    )
    with NormBankService(settings) as svc:
        result = svc.generate("library", "eat food", ["[PERSON]'s role is 'patron'"], n=1, seed=5, max_new_tokens=48, store=False)
    assert result.backend == "openai" and served in result.model
    assert len(result.proposals) + len(result.duplicates) + len(result.invalid) >= 1
    assert result.completion_tokens > 0 and result.stored == 0
    for p in result.proposals:
        assert p.norm.review_state.value == "proposed" and not p.stored
