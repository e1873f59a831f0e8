"""``normgraph train judge``: learn the judge's heads from the public data files and write the weights with a
model card. The only judge module that imports torch (training only; serving runs the heads in numpy).

Splits (deterministic, recorded in the card so the benchmark can hold out the same rows):
- Moral Stories by norm (normalised text): ``test`` (never trained on: the norm-following benchmark), ``dev``
  (temperatures, the relevance threshold, early stopping), ``train``;
- the prior's rows by group (ETHICS contrastive pairs together, Moral Stories actions with their norm).
Embeddings are the fp32 vectors of the configured model (backend ``onnx``): the default encoder serves int8
vectors, whose recipe may change, and heads trained over fp32 are checked against int8 vectors below.
"""

from __future__ import annotations

import hashlib
import platform
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from normgraph.judge import data as D
from normgraph.judge.calibration import expected_calibration_error, fit_temperature
from normgraph.judge.model import POLARITIES, Head, JudgeModel, pair_features
from normgraph.judge.polarity import negate

if TYPE_CHECKING:
    import torch

SALT = "judge-v1"
TEST_FRACTION = 0.15  # Moral Stories norms held out for the benchmark
DEV_FRACTION = 0.10
HIDDEN = 256
EPOCHS = 25
PATIENCE = 3
BATCH = 512
# Moral Stories actions are narratives ("Phil decides …") a norm's phrase is only loosely similar to: a norm
# with its own actions has a median cosine of ~0.26, with another story's ~0.08. The gate lets through what a
# random other norm passes at most this often.
RANDOM_PASS = 0.2
# A retrieved neighbour's label transfers only to the behaviour it is about: near-paraphrases, which
# all-MiniLM-L6-v2 puts at cosine >= ~0.5 (the demo bank's own paraphrases sit at 0.55-0.8).
NEIGHBOUR_THRESHOLD = 0.5
# int8 vectors sit at cosine ~0.99 to fp32 ones; training on vectors jittered that far keeps the heads steady
# under the default encoder (and under a changed quantisation recipe).
JITTER_COSINE = 0.99


def split(group: str, salt: str = SALT) -> str:
    u = D.split_of(group, salt)
    return "test" if u < TEST_FRACTION else "dev" if u < TEST_FRACTION + DEV_FRACTION else "train"


def norm_group(norm: str) -> str:
    return "ms:" + " ".join(D._WORD.findall(norm.lower()))


@dataclass
class Report:
    lines: list[str]
    out: Callable[[str], None] = print

    def __call__(self, line: str) -> None:
        self.lines.append(line)
        self.out(line)


def _jitter(x: "torch.Tensor", gen: "torch.Generator") -> "torch.Tensor":  # noqa: F821
    import torch

    sigma = float(np.sqrt(2 * (1 - JITTER_COSINE) / x.shape[-1]))
    return torch.nn.functional.normalize(x + sigma * torch.randn(x.shape, generator=gen), dim=-1)


def _fit(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_dev: np.ndarray,
    y_dev: np.ndarray,
    *,
    outputs: int,
    hidden: int | None,
    make_input: Callable[["torch.Tensor", "torch.Generator"], "torch.Tensor"] | None = None,  # noqa: F821
    class_weights: np.ndarray | None = None,
    seed: int = 0,
    lr: float = 1e-3,
    weight_decay: float = 1e-4,
    dropout: float = 0.1,
) -> Head:
    """Train one head (binary when ``outputs == 1``) with early stopping on the dev loss."""
    import torch

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    dim = x_train.shape[1]
    layers: list[torch.nn.Module] = []
    if hidden:
        layers += [torch.nn.Linear(dim, hidden), torch.nn.ReLU(), torch.nn.Dropout(dropout), torch.nn.Linear(hidden, outputs)]
    else:
        layers += [torch.nn.Linear(dim, outputs)]
    net = torch.nn.Sequential(*layers)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay)
    xt, yt = torch.from_numpy(x_train), torch.from_numpy(y_train)
    xd, yd = torch.from_numpy(x_dev), torch.from_numpy(y_dev)
    if outputs == 1:
        loss_fn: Callable = lambda z, y: torch.nn.functional.binary_cross_entropy_with_logits(z[:, 0], y.float())  # noqa: E731
    else:
        w = torch.from_numpy(class_weights).float() if class_weights is not None else None
        loss_fn = lambda z, y: torch.nn.functional.cross_entropy(z, y, weight=w)  # noqa: E731
    best, best_state, stale = float("inf"), None, 0
    for _epoch in range(EPOCHS):
        net.train()
        order = torch.randperm(len(xt), generator=gen)
        for i in range(0, len(order), BATCH):
            idx = order[i : i + BATCH]
            xb = make_input(xt[idx], gen) if make_input else xt[idx]
            opt.zero_grad()
            loss_fn(net(xb), yt[idx]).backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            dev_loss = float(loss_fn(net(xd), yd))
        if dev_loss < best - 1e-4:
            best, stale = dev_loss, 0
            best_state = {k: v.clone() for k, v in net.state_dict().items()}
        else:
            stale += 1
            if stale >= PATIENCE:
                break
    assert best_state is not None
    net.load_state_dict(best_state)
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    np_ = lambda t: t.detach().numpy().astype(np.float32)  # noqa: E731
    if hidden:
        return Head(w1=np_(linears[0].weight.T), b1=np_(linears[0].bias), w2=np_(linears[1].weight.T), b2=np_(linears[1].bias))
    return Head(w2=np_(linears[0].weight.T), b2=np_(linears[0].bias))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class _Vectors:
    """Texts to fp32 embeddings through the bank's embedding cache (a rerun encodes nothing twice)."""

    def __init__(self, embedder) -> None:
        self.embedder = embedder
        self._memo: dict[str, np.ndarray] = {}

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        todo = [t for t in dict.fromkeys(texts) if t not in self._memo]
        if todo:
            for t, v in zip(todo, self.embedder.encode(todo), strict=True):
                self._memo[t] = v
        return np.stack([self._memo[t] for t in texts]).astype(np.float32) if texts else np.zeros((0, 384), np.float32)


def relation_pairs(stories: Sequence[D.Story]) -> tuple[list[str], list[str], np.ndarray]:
    """(norm behaviour, action, 1 = carries out the norm's behaviour / 0 = goes against it). A prohibition's
    immoral action is the one that carries its behaviour out ("it's wrong to steal": stealing)."""
    xs, acts, ys = [], [], []
    for s in stories:
        if s.polarity is None or not s.behavior:
            continue
        carries, against = (s.immoral, s.moral) if s.polarity == "prohibitive" else (s.moral, s.immoral)
        xs += [s.behavior, s.behavior]
        acts += [carries, against]
        ys += [1, 0]
    return xs, acts, np.array(ys, dtype=np.int64)


def polarity_examples(stories: Sequence[D.Story]) -> tuple[list[str], np.ndarray]:
    """Norms with a lexical polarity, and negated copies (so every class has prohibitive/obligatory twins)."""
    texts, ys = [], []
    for i, s in enumerate(stories):
        if s.polarity is None:
            continue
        texts.append(s.norm)
        ys.append(POLARITIES.index(s.polarity))
        neg = negate(s.norm, variant=i)
        if neg is not None:
            texts.append(neg[0])
            ys.append(POLARITIES.index(neg[1]))
    return texts, np.array(ys, dtype=np.int64)


def train_judge(
    data_dir: Path,
    out: Path,
    *,
    embedder,
    check_embedder=None,
    seed: int = 0,
    log: Callable[[str], None] = print,
) -> JudgeModel:
    """Train every head, calibrate it on the dev split, and write ``out/judge.npz`` and
    ``out/model_card.json``. ``check_embedder`` (e.g. the int8 encoder) re-scores the dev split with its
    vectors, for the card."""
    t0 = time.monotonic()
    random.seed(seed)
    report = Report([], log)
    data = D.load(data_dir)
    vec = _Vectors(embedder)
    metrics: dict[str, dict[str, float]] = {}

    # --- relation ------------------------------------------------------------------------------------------
    by_split: dict[str, list[D.Story]] = {"train": [], "dev": [], "test": []}
    for s in data.stories:
        by_split[split(norm_group(s.norm))].append(s)
    report(f"moral stories: {', '.join(f'{k} {len(v)}' for k, v in by_split.items())} stories (split by norm)")
    rel: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for name in ("train", "dev"):
        xs, acts, ys = relation_pairs(by_split[name])
        rel[name] = (vec(xs), vec(acts), ys)
    dim = rel["train"][0].shape[1]

    def pair_input(x: "torch.Tensor", gen: "torch.Generator") -> "torch.Tensor":  # noqa: F821
        import torch

        norm, act = _jitter(x[:, :dim], gen), _jitter(x[:, dim : 2 * dim], gen)
        return torch.cat([norm, act, norm * act, (norm - act).abs()], dim=1)

    feats = {k: pair_features(v[0], v[1]).astype(np.float32) for k, v in rel.items()}
    relation = _fit(feats["train"], rel["train"][2], feats["dev"], rel["dev"][2], outputs=1, hidden=HIDDEN,
                    make_input=pair_input, seed=seed)
    z = relation.logits(feats["dev"])[:, 0]
    relation.temperature = fit_temperature(z, rel["dev"][2])
    p = 1 / (1 + np.exp(-z / relation.temperature))
    metrics["relation"] = {
        "dev_accuracy": round(float(((p > 0.5) == rel["dev"][2]).mean()), 4),
        "dev_ece": round(expected_calibration_error(p, rel["dev"][2]), 4),
        "dev_ece_uncalibrated": round(expected_calibration_error(1 / (1 + np.exp(-z)), rel["dev"][2]), 4),
        "dev_pairs": int(len(p)),
    }
    report(f"relation: {metrics['relation']}  T={relation.temperature:.3f}")

    # --- relevance: the cosine below which a norm does not bear on a behaviour -------------------------------
    dev_norm, dev_act, _ = rel["dev"]
    own = (dev_norm * dev_act).sum(1)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(dev_act))
    other = (dev_norm * dev_act[perm]).sum(1)
    full_norms = vec([s.norm for s in by_split["dev"] for _ in (0, 1) if s.polarity is not None and s.behavior])
    # the judge gates on the larger of the two similarities (the norm's phrase, the norm as written)
    own = np.maximum(own, (full_norms * dev_act).sum(1))
    other = np.maximum(other, (full_norms * dev_act[perm]).sum(1))
    threshold = float(np.quantile(other, 1 - RANDOM_PASS))
    metrics["relevance"] = {
        "threshold": round(threshold, 4),
        "own_pairs_passing": round(float((own >= threshold).mean()), 4),
        "random_pairs_passing": round(float((other >= threshold).mean()), 4),
        "neighbour_threshold": NEIGHBOUR_THRESHOLD,
    }
    report(f"relevance: {metrics['relevance']}")

    # --- polarity ------------------------------------------------------------------------------------------
    pol: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name in ("train", "dev"):
        texts, ys = polarity_examples(by_split[name])
        pol[name] = (vec(texts), ys)
    counts = np.bincount(pol["train"][1], minlength=3).astype(np.float64)
    polarity = _fit(pol["train"][0], pol["train"][1], pol["dev"][0], pol["dev"][1], outputs=3, hidden=None,
                    class_weights=(counts.sum() / (3 * np.maximum(counts, 1))).astype(np.float32), seed=seed,
                    make_input=_jitter, lr=3e-3)
    z = polarity.logits(pol["dev"][0])
    polarity.temperature = fit_temperature(z, pol["dev"][1])
    pp = np.exp(z / polarity.temperature)
    pp /= pp.sum(1, keepdims=True)
    metrics["polarity"] = {
        "dev_accuracy": round(float((pp.argmax(1) == pol["dev"][1]).mean()), 4),
        "dev_ece": round(expected_calibration_error(pp, pol["dev"][1]), 4),
    }
    report(f"polarity (embedding head, used only without a lexical cue): {metrics['polarity']}")

    # --- prior ---------------------------------------------------------------------------------------------
    prior_split: dict[str, list[D.Example]] = {"train": [], "dev": [], "test": []}
    for e in data.prior:
        prior_split[split(e.group)].append(e)
    # the Moral Stories test norms' actions are held out too (the benchmark judges them without the norm)
    px = {k: vec([e.text for e in v]) for k, v in prior_split.items() if k != "test"}
    py = {k: np.array([e.label for e in v], dtype=np.int64) for k, v in prior_split.items() if k != "test"}
    counts = np.bincount(py["train"], minlength=3).astype(np.float64)
    prior = _fit(px["train"], py["train"], px["dev"], py["dev"], outputs=3, hidden=HIDDEN, make_input=_jitter,
                 class_weights=(counts.sum() / (3 * np.maximum(counts, 1))).astype(np.float32), seed=seed,
                 dropout=0.3, weight_decay=1e-3)
    z = prior.logits(px["dev"])
    prior.temperature = fit_temperature(z, py["dev"])
    pr = np.exp(z / prior.temperature - (z / prior.temperature).max(1, keepdims=True))
    pr /= pr.sum(1, keepdims=True)
    is_cm = np.array([e.source == "ethics-commonsense" for e in prior_split["dev"]])
    wrong = pr[:, D.UNEXPECTED] > 0.5
    metrics["prior"] = {
        "dev_accuracy_3way": round(float((pr.argmax(1) == py["dev"]).mean()), 4),
        "dev_ece": round(expected_calibration_error(pr, py["dev"]), 4),
        "dev_ethics_short_accuracy_wrong_vs_not": round(float((wrong[is_cm] == (py["dev"][is_cm] == D.UNEXPECTED)).mean()), 4),
        "dev_rows": int(len(py["dev"])),
        "train_rows": int(len(py["train"])),
    }
    report(f"prior: {metrics['prior']}  T={prior.temperature:.3f}")

    # --- the same dev splits through another encoder (the int8 default) -----------------------------------------
    if check_embedder is not None:
        check = _Vectors(check_embedder)
        xs, acts, ys = relation_pairs(by_split["dev"])
        p8 = 1 / (1 + np.exp(-relation.logits(pair_features(check(xs), check(acts)))[:, 0]))
        pr8 = np.argmax(prior.logits(check([e.text for e in prior_split["dev"]])), 1)
        metrics["int8_check"] = {
            "model": check_embedder.model_id,
            "relation_dev_accuracy": round(float(((p8 > 0.5) == ys).mean()), 4),
            "prior_dev_accuracy_3way": round(float((pr8 == py["dev"]).mean()), 4),
            "relation_agreement_with_fp32": round(float(((p8 > 0.5) == (p > 0.5)).mean()), 4),
        }
        report(f"int8 check: {metrics['int8_check']}")

    files = {
        "moral-stories/norm_actions_train.jsonl": data_dir / "moral-stories" / "norm_actions_train.jsonl",
        "ethics/cm_train_short.csv": data_dir / "ethics" / "cm_train_short.csv",
        "trustllm-social-chem/social_chem_101_actions.csv": data_dir / "trustllm-social-chem" / "social_chem_101_actions.csv",
    }
    card = {
        "name": "normgraph-judge-minilm-heads",
        "embedding_model": embedder.model_id,
        "embedding_dim": int(dim),
        "trained_on_vectors_of": embedder.model_id,
        "heads": {
            "prior": f"MLP {dim}-{HIDDEN}-3 over the behaviour's embedding",
            "relation": f"MLP {4 * dim}-{HIDDEN}-1 over [u, v, u*v, |u-v|] of (norm behaviour phrase, behaviour)",
            "polarity": f"linear {dim}-3 over the norm's embedding (fallback when the wording has no cue)",
        },
        "labels": list(D.LABELS),
        "relevance": {"threshold": metrics["relevance"]["threshold"], "neighbour_threshold": metrics["relevance"]["neighbour_threshold"]},
        "splits": {
            "salt": SALT, "test_fraction": TEST_FRACTION, "dev_fraction": DEV_FRACTION,
            "moral_stories": "by normalised norm text; test norms are never trained on (bench/judge_eval.py)",
            "prior": "by group: ETHICS contrastive pairs (adjacent rows sharing >= half their words), Moral Stories actions with their norm",
        },
        "data": {name: {"sha256": _sha256(path), "licence": "MIT" if "trustllm" not in name else "CC BY-SA 4.0 (rows) / MIT"} for name, path in files.items()},
        "not_trained_on": ["ethics/cm_test_hard.csv (evaluation only)"],
        "metrics": metrics,
        "training": {"seconds": round(time.monotonic() - t0, 1), "seed": seed, "jitter_cosine": JITTER_COSINE,
                     "python": platform.python_version(), "epochs_max": EPOCHS, "patience": PATIENCE},
    }
    model = JudgeModel({"prior": prior, "relation": relation, "polarity": polarity}, card)
    model.save(Path(out))
    report(f"wrote {out} ({card['training']['seconds']}s)")
    return model
