"""The judge's training data, read from the public files in ``../shared/data`` (given by path; users of the
shipped weights never need them), with splits that keep related rows together.

Every reader returns plain ``Example``s; ``normgraph.judge.train`` embeds and learns from them. Labels use the
judge's three classes: 0 expected, 1 okay, 2 unexpected.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from normgraph.errors import IngestError
from normgraph.judge.polarity import Polarity, read_norm

EXPECTED, OKAY, UNEXPECTED = 0, 1, 2
LABELS = ("expected", "okay", "unexpected")

csv.field_size_limit(10_000_000)


@dataclass(frozen=True)
class Example:
    """A behaviour judged on its own (the prior's data)."""

    text: str
    label: int
    group: str  # rows of one group stay on one side of a split
    source: str


@dataclass(frozen=True)
class Story:
    """A Moral Stories norm with the action that follows it and the one that violates it."""

    id: str
    norm: str
    moral: str
    immoral: str
    behavior: str = ""  # the norm's behaviour phrase, polarity wording stripped
    polarity: Polarity | None = None


@dataclass
class JudgeData:
    prior: list[Example] = field(default_factory=list)
    stories: list[Story] = field(default_factory=list)


def _rows(path: Path, needed: Iterable[str]) -> list[dict[str, str]]:
    if not path.is_file():
        raise IngestError(f"{path}: no such file", {"path": str(path)})
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in needed if c not in (reader.fieldnames or ())]
        if missing:
            raise IngestError(f"{path}: missing columns {', '.join(missing)}", {"path": str(path), "missing": missing})
        return list(reader)


_WORD = re.compile(r"[a-z0-9']+")


def _tokens(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / max(1, len(a | b))


def commonsense(path: Path) -> list[Example]:
    """ETHICS commonsense short train rows: 1 (clearly wrong) -> unexpected, 0 -> okay. Contrastive pairs
    (one detail changed) sit next to each other in the file; a row sharing at least half its words with the
    row before joins that row's group, so no pair is split."""
    out: list[Example] = []
    prev: set[str] = set()
    group = ""
    for i, r in enumerate(_rows(path, ("label", "input"))):
        text = " ".join(r["input"].split())
        if not text:
            continue
        tokens = _tokens(text)
        if i == 0 or _jaccard(tokens, prev) < 0.5:
            group = f"cm:{i}"
        prev = tokens
        out.append(Example(text, UNEXPECTED if r["label"].strip() == "1" else OKAY, group, "ethics-commonsense"))
    return out


def moral_stories(path: Path) -> list[Story]:
    """Moral Stories from ``norm_actions_train.jsonl`` (one story a line)."""
    if not path.is_file():
        raise IngestError(f"{path}: no such file", {"path": str(path)})
    out: list[Story] = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            d = json.loads(line)
            norm = " ".join(str(d["norm"]).split())
            read = read_norm(norm)
            out.append(
                Story(
                    id=str(d["ID"]),
                    norm=norm,
                    moral=" ".join(str(d["moral_action"]).split()),
                    immoral=" ".join(str(d["immoral_action"]).split()),
                    behavior=read.behavior,
                    polarity=read.polarity,
                )
            )
    return out


def social_chem_actions(path: Path) -> list[Example]:
    """TrustLLM's 500 Social-Chem-101 actions: judgment -2/-1 -> unexpected, 0 -> okay, 1/2 -> expected."""
    out = []
    for r in _rows(path, ("action", "action-moral-judgment")):
        j = int(float(r["action-moral-judgment"]))
        label = UNEXPECTED if j < 0 else OKAY if j == 0 else EXPECTED
        text = " ".join(r["action"].split()).rstrip(".")
        out.append(Example(text, label, f"sc:{text.lower()}", "trustllm-social-chem"))
    return out


def story_examples(stories: Iterable[Story]) -> list[Example]:
    """The actions of Moral Stories judged without their norm: the immoral one is unexpected; the moral one
    is expected when it carries out an obligation, okay when it only avoids a prohibited act."""
    out = []
    for s in stories:
        group = f"ms:{s.norm.lower()}"
        out.append(Example(s.moral, EXPECTED if s.polarity == "obligatory" else OKAY, group, "moral-stories"))
        out.append(Example(s.immoral, UNEXPECTED, group, "moral-stories"))
    return out


def split_of(group: str, salt: str = "judge-v1") -> float:
    """A stable number in [0, 1) per group: the split is a threshold on it, so no group crosses splits."""
    h = hashlib.sha256(f"{salt}:{group}".encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64


def load(data_dir: Path) -> JudgeData:
    """Everything the judge trains on, from the layout of ``../shared/data``."""
    data_dir = Path(data_dir)
    stories = moral_stories(data_dir / "moral-stories" / "norm_actions_train.jsonl")
    prior = commonsense(data_dir / "ethics" / "cm_train_short.csv")
    prior += social_chem_actions(data_dir / "trustllm-social-chem" / "social_chem_101_actions.csv")
    prior += story_examples(stories)
    return JudgeData(prior=prior, stories=stories)
