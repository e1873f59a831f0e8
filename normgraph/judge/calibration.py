"""Temperature scaling and expected calibration error, in numpy.

One temperature per head, fitted on a held-in split by minimising the negative log-likelihood (a 1-D search:
NLL is unimodal in T); the top-label ECE with equal-width bins is what the model card and the benchmark
report."""

from __future__ import annotations

import numpy as np


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def as_multiclass(logits: np.ndarray) -> np.ndarray:
    """A binary head's ``(n,)`` or ``(n, 1)`` logit as the two-class logits ``[0, z]``."""
    z = np.asarray(logits, dtype=np.float64).reshape(len(logits), -1)
    return np.concatenate([np.zeros_like(z), z], axis=1) if z.shape[1] == 1 else z


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    lp = _log_softmax(as_multiclass(logits) / temperature)
    return float(-lp[np.arange(len(labels)), labels].mean())


def fit_temperature(logits: np.ndarray, labels: np.ndarray, lo: float = 0.05, hi: float = 20.0) -> float:
    """The temperature minimising NLL on ``(logits, labels)``, by golden-section search on log T."""
    labels = np.asarray(labels, dtype=np.int64)
    a, b = np.log(lo), np.log(hi)
    g = (np.sqrt(5) - 1) / 2
    c, d = b - g * (b - a), a + g * (b - a)
    for _ in range(60):
        if nll(logits, labels, np.exp(c)) < nll(logits, labels, np.exp(d)):
            b = d
        else:
            a = c
        c, d = b - g * (b - a), a + g * (b - a)
    return float(np.exp((a + b) / 2))


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """Top-label ECE: the bin-weighted gap between confidence and accuracy."""
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim == 1:  # a binary head's P(class 1)
        probs = np.stack([1 - probs, probs], axis=1)
    conf = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == np.asarray(labels)).astype(np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        inside = (conf > lo) & (conf <= hi)
        if inside.any():
            ece += inside.mean() * abs(conf[inside].mean() - correct[inside].mean())
    return float(ece)
