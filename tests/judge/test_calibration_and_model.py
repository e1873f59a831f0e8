"""Temperature scaling, ECE and the shipped model's files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from normgraph.judge.calibration import expected_calibration_error, fit_temperature
from normgraph.judge.model import DEFAULT_MODEL_DIR, JudgeModel, JudgeModelUnavailable


def test_fit_temperature_recovers_the_temperature_that_made_the_labels() -> None:
    rng = np.random.default_rng(0)
    true_logits = rng.normal(0, 2, size=(20000, 3))
    p = np.exp(true_logits) / np.exp(true_logits).sum(1, keepdims=True)
    labels = np.array([rng.choice(3, p=row) for row in p])
    # an over-confident model: its logits are the true ones times 3
    t = fit_temperature(3 * true_logits, labels)
    assert t == pytest.approx(3.0, rel=0.08)


def test_ece_is_zero_for_calibrated_and_large_for_overconfident_scores() -> None:
    rng = np.random.default_rng(1)
    conf = rng.uniform(0.5, 1.0, 50000)
    correct = rng.uniform(size=conf.size) < conf
    probs = np.stack([conf, 1 - conf], axis=1)
    labels = np.where(correct, 0, 1)
    assert expected_calibration_error(probs, labels) < 0.01
    sure = np.stack([np.full(conf.size, 0.99), np.full(conf.size, 0.01)], axis=1)
    assert expected_calibration_error(sure, labels) > 0.2


def test_the_shipped_model_loads_and_says_what_it_was_trained_on() -> None:
    model = JudgeModel.load()
    assert model.path == DEFAULT_MODEL_DIR
    assert model.embedding_model.startswith("all-MiniLM-L6-v2@")
    card = model.card
    assert "ethics/cm_test_hard.csv (evaluation only)" in card["not_trained_on"]
    assert 0 < model.relevance_threshold < 1
    x = np.eye(384, dtype=np.float32)[:3]
    p = model.prior(x)
    assert p.shape == (3, 3) and np.allclose(p.sum(1), 1, atol=1e-5)
    q = model.relation(x, x[::-1])
    assert q.shape == (3,) and ((0 <= q) & (q <= 1)).all()
    size = sum(f.stat().st_size for f in DEFAULT_MODEL_DIR.iterdir())
    assert size < 5 * 1024 * 1024, "the shipped weights are meant to stay small"


def test_a_missing_or_broken_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(JudgeModelUnavailable, match="no judge model"):
        JudgeModel.load(tmp_path / "nothing-here")
    broken = tmp_path / "broken"
    shutil.copytree(DEFAULT_MODEL_DIR, broken)
    card = json.loads((broken / "model_card.json").read_text())
    card["format"] = "something-else@9"
    (broken / "model_card.json").write_text(json.dumps(card))
    with pytest.raises(JudgeModelUnavailable, match="format"):
        JudgeModel.load(broken)
    (broken / "judge.npz").write_bytes(b"not a zip")
    card["format"] = "normgraph-judge@1"
    (broken / "model_card.json").write_text(json.dumps(card))
    with pytest.raises(JudgeModelUnavailable, match="cannot read"):
        JudgeModel.load(broken)
