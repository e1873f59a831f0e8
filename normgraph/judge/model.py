"""The judge's own model: small heads over the shared sentence embeddings (all-MiniLM-L6-v2, 384-d), run in
numpy so the serving path needs neither torch nor a second encoder.

- ``prior``:     behaviour -> expected / okay / unexpected (stage 4, the judge's own opinion);
- ``relation``:  (norm behaviour phrase, behaviour) -> does the behaviour carry out what the norm is about, or
                 go against it (stage 1, and nothing else: polarity comes from the norm's wording);
- ``polarity``:  a norm's embedding -> obligatory / permissive / prohibitive, for norms whose wording has no cue;
- ``relevance``: the cosine under which a supplied norm does not bear on the behaviour at all.

Each head is a one-hidden-layer MLP (or a linear layer) with a temperature fitted on a held-in split. The
weights are one ``.npz`` beside a ``model_card.json`` naming the embedding model they were trained over, the
data, the splits and the measured figures (``normgraph train judge`` writes both).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from normgraph.errors import NormgraphError
from normgraph.judge.polarity import Polarity

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "weights"
WEIGHTS_FILE = "judge.npz"
CARD_FILE = "model_card.json"
FORMAT = "normgraph-judge@1"
POLARITIES: tuple[Polarity, ...] = ("obligatory", "permissive", "prohibitive")


class JudgeModelUnavailable(NormgraphError):
    """The judge's weights cannot be loaded (a missing or unreadable model directory): a server-side
    condition when it is the configured model, hence 503."""

    code = "judge_unavailable"
    http_status = 503


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


@dataclass
class Head:
    """``x @ w1 + b1 -> relu -> @ w2 + b2`` (or just ``x @ w2 + b2`` when there is no hidden layer), logits
    divided by ``temperature``."""

    w2: np.ndarray
    b2: np.ndarray
    w1: np.ndarray | None = None
    b1: np.ndarray | None = None
    temperature: float = 1.0

    def logits(self, x: np.ndarray) -> np.ndarray:
        h = x
        if self.w1 is not None:
            h = np.maximum(x @ self.w1 + self.b1, 0.0)
        return (h @ self.w2 + self.b2) / self.temperature

    @classmethod
    def from_arrays(cls, arrays: Any, name: str, temperature: float) -> "Head":
        get = lambda k: arrays[f"{name}.{k}"].astype(np.float32) if f"{name}.{k}" in arrays else None  # noqa: E731
        w2, b2 = get("w2"), get("b2")
        if w2 is None or b2 is None:
            raise KeyError(f"{name}.w2/{name}.b2")  # reported by the loader as a broken weights file
        return cls(w2=w2, b2=b2, w1=get("w1"), b1=get("b1"), temperature=float(temperature))

    def arrays(self, name: str) -> dict[str, np.ndarray]:
        out = {f"{name}.w2": self.w2, f"{name}.b2": self.b2}
        if self.w1 is not None and self.b1 is not None:
            out |= {f"{name}.w1": self.w1, f"{name}.b1": self.b1}
        return out


def pair_features(norm: np.ndarray, behavior: np.ndarray) -> np.ndarray:
    """The relation head's input: both embeddings, their product and their distance, ``(n, 4 * dim)``."""
    norm = np.atleast_2d(norm)
    behavior = np.atleast_2d(behavior)
    return np.concatenate([norm, behavior, norm * behavior, np.abs(norm - behavior)], axis=1)


class JudgeModel:
    """The heads, loaded once from a model directory (``DEFAULT_MODEL_DIR`` ships in the package)."""

    def __init__(self, heads: dict[str, Head], card: dict[str, Any], path: Path | None = None) -> None:
        self.heads = heads
        self.card = card
        self.path = path
        self.relevance_threshold = float(card["relevance"]["threshold"])
        self.neighbour_threshold = float(card["relevance"].get("neighbour_threshold", self.relevance_threshold))

    @property
    def name(self) -> str:
        return str(self.card.get("name", "judge"))

    @property
    def embedding_model(self) -> str:
        return str(self.card.get("embedding_model", "all-MiniLM-L6-v2"))

    @classmethod
    def load(cls, path: str | Path | None = None) -> "JudgeModel":
        directory = Path(path) if path is not None else DEFAULT_MODEL_DIR
        if directory.is_file():  # the weights file itself was named
            directory = directory.parent
        card_file, weights_file = directory / CARD_FILE, directory / WEIGHTS_FILE
        if not card_file.is_file() or not weights_file.is_file():
            raise JudgeModelUnavailable(
                f"no judge model at {directory}: it needs {CARD_FILE} and {WEIGHTS_FILE} "
                "(written by `normgraph train judge --out DIR`)",
                {"path": str(directory)},
            )
        try:
            card = json.loads(card_file.read_text())
            if card.get("format") != FORMAT:
                raise ValueError(f"format {card.get('format')!r}, expected {FORMAT!r}")
            with np.load(weights_file) as arrays:
                temps = card.get("temperatures", {})
                heads = {name: Head.from_arrays(arrays, name, temps.get(name, 1.0)) for name in ("prior", "relation", "polarity")}
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise JudgeModelUnavailable(f"cannot read the judge model at {directory}: {e}", {"path": str(directory)}) from None
        return cls(heads, card, directory)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {}
        for name, head in self.heads.items():
            arrays |= {k: v.astype(np.float16 if v.ndim == 2 else np.float32) for k, v in head.arrays(name).items()}
        self.card["temperatures"] = {name: round(h.temperature, 5) for name, h in self.heads.items()}
        self.card["format"] = FORMAT
        np.savez_compressed(directory / WEIGHTS_FILE, **arrays)  # type: ignore[arg-type]  # numpy's stub types **kwds as allow_pickle
        (directory / CARD_FILE).write_text(json.dumps(self.card, indent=2) + "\n")

    # --- the heads ----------------------------------------------------------------------------------------
    def prior(self, behavior: np.ndarray) -> np.ndarray:
        """``(n, 3)`` probabilities of expected / okay / unexpected for behaviours judged on their own."""
        return _softmax(self.heads["prior"].logits(np.atleast_2d(behavior)))

    def relation(self, norm_behavior: np.ndarray, behavior: np.ndarray) -> np.ndarray:
        """``(n,)`` probability that each behaviour carries out its norm's behaviour (rather than going
        against it)."""
        return _sigmoid(self.heads["relation"].logits(pair_features(norm_behavior, behavior))[:, 0])

    def polarity(self, norm: np.ndarray) -> np.ndarray:
        """``(n, 3)`` probabilities of obligatory / permissive / prohibitive, from the norm's embedding."""
        return _softmax(self.heads["polarity"].logits(np.atleast_2d(norm)))
