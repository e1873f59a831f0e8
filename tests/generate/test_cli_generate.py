"""`normgraph generate` and `normgraph answer`: registered, and their failures are one line with exit 1."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from normgraph.cli import cli
from tests.generate.conftest import copy_home


@pytest.fixture(scope="module")
def home(indexed_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_home(indexed_template, tmp_path_factory, "cli")


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_both_commands_are_registered() -> None:
    code, out = run("--help")
    assert code == 0 and "generate" in out and "answer" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--backend", "llamafile"], "unknown generator backend 'llamafile'"),
        (["--model", "/no/such/model.gguf"], "does not exist"),
        (["--backend", "openai"], "NORMGRAPH_GENERATOR_BASE_URL"),
        (["--behavior", "   "], "behavior must be a non-empty phrase"),
        (["--behavior", "y" * 300], "at most"),
    ],
)
def test_generate_failures_are_one_line_and_exit_1(home: Path, args: list[str], message: str) -> None:
    code, out = run("--home", str(home), "generate", "--setting", "library", *args)
    assert code == 1, out
    assert message in out and "Traceback" not in out


def test_an_unknown_setting_is_reported_before_any_model_loads(home: Path) -> None:
    code, out = run("--home", str(home), "generate", "--setting", "moon base", "--model", "/no/such/model.gguf")
    assert code == 1 and "unknown setting 'moon base'" in out


def test_answer_with_an_unknown_backend_exits_1(home: Path) -> None:
    code, out = run("--home", str(home), "answer", "my phone rings at a funeral", "--backend", "llamafile")
    assert code == 1 and "unknown generator backend" in out
