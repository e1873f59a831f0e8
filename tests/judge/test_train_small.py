"""`normgraph train judge` end to end on a small slice of the real data files (read from ../shared/data and
cut down into a tmp folder laid out the same way): it writes weights and a model card that `judge --model`
loads, and the card records the splits and that the hard test set was never used."""

from __future__ import annotations

import json
from itertools import islice
from pathlib import Path

import pytest
from click.testing import CliRunner

from normgraph.cli import cli

pytestmark = pytest.mark.slow


def _head(src: Path, dst: Path, lines: int) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    with src.open(encoding="utf-8") as f:
        dst.write_text("".join(islice(f, lines)), encoding="utf-8")


def test_train_judge_writes_a_model_the_cli_loads(shared_data: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    _head(shared_data / "moral-stories" / "norm_actions_train.jsonl", data / "moral-stories" / "norm_actions_train.jsonl", 400)
    _head(shared_data / "ethics" / "cm_train_short.csv", data / "ethics" / "cm_train_short.csv", 300)
    _head(shared_data / "trustllm-social-chem" / "social_chem_101_actions.csv", data / "trustllm-social-chem" / "social_chem_101_actions.csv", 120)
    home, out = tmp_path / "home", tmp_path / "model"
    runner = CliRunner()
    result = runner.invoke(cli, ["--home", str(home), "train", "judge", "--data", str(data), "--out", str(out), "--no-int8-check"])
    assert result.exit_code == 0, result.output
    card = json.loads((out / "model_card.json").read_text())
    assert card["splits"]["salt"] and card["not_trained_on"] == ["ethics/cm_test_hard.csv (evaluation only)"]
    assert set(card["metrics"]) >= {"relation", "relevance", "polarity", "prior"}
    assert (out / "judge.npz").stat().st_size < 5 * 1024 * 1024

    assert runner.invoke(cli, ["--home", str(home), "demo", "--no-taxonomy", "--no-progress"]).exit_code == 0
    judged = runner.invoke(cli, ["--home", str(home), "judge", "I ate dinner with my hands", "--model", str(out),
                                 "--norm", "unexpected: eat with your hands", "--json"])
    assert judged.exit_code == 0, judged.output
    answer = json.loads(judged.stdout)
    assert answer["method"] == "supplied_norms" and answer["model"].startswith(card["name"])
