"""The judge's four stages, in order of authority (DESIGN §5). Each looks at the request and either decides
(a ``Decision``) or gives way with its reason; ``normgraph.judge.service`` runs them in order.

1. ``supplied_norms``: the caller's norms, read as polarity x relation, behind a relevance gate;
2. ``frame_resolution``: the bank's frame resolution for a known setting and behaviour;
3. ``retrieval``: the bank's nearest statements, only those similar enough, weighted by similarity;
4. ``model_prior``: the judge's own classifier of the behaviour alone.

Scores are the three label probabilities. A stage that decides on thin evidence (a conditional norm, a few
neighbours) mixes the prior in rather than claiming certainty.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from normgraph.judge.model import POLARITIES, JudgeModel
from normgraph.judge.polarity import Polarity, read_norm
from normgraph.judge.schemas import Conflict, Evidence, StageName, SuppliedNorm
from normgraph.models import Label

if TYPE_CHECKING:
    from normgraph.frames.results import BehaviorResult

LABELS = (Label.expected, Label.okay, Label.unexpected)
_INDEX = {label: i for i, label in enumerate(LABELS)}
_BY_LABEL: dict[Label, Polarity] = {Label.expected: "obligatory", Label.okay: "permissive", Label.unexpected: "prohibitive"}
# Frame resolution decides; the prior only softens its distribution (a norm bank is not infallible), more so
# when the deciding norms are conditional (DESIGN §3 discounts those too).
FRAME_PRIOR_MIX = 0.1
CONDITIONAL_PRIOR_MIX = 0.5
# Retrieved neighbours: at most this share of the scores, less with fewer or less similar neighbours.
NEIGHBOUR_WEIGHT = 0.75
NEIGHBOUR_MIN_SHARE = 0.6  # neighbours whose weighted vote is split more evenly than this do not decide


@dataclass
class Decision:
    scores: np.ndarray  # (3,) expected / okay / unexpected, sums to 1
    evidence: list[Evidence]
    conflicts: list[Conflict] = field(default_factory=list)
    reason: str = ""


@dataclass
class GaveWay:
    reason: str
    evidence: list[Evidence] = field(default_factory=list)


Outcome = Decision | GaveWay
Vectors = Callable[[Sequence[str]], np.ndarray]


def onehot(label: Label) -> np.ndarray:
    v = np.zeros(3)
    v[_INDEX[label]] = 1.0
    return v


def normalised(v: np.ndarray) -> np.ndarray:
    v = np.clip(np.asarray(v, dtype=np.float64), 0.0, None)
    s = v.sum()
    return v / s if s > 0 else np.full(3, 1 / 3)


def top_label(scores: np.ndarray) -> Label:
    # ties go towards caution, as frame resolution breaks them
    order = sorted(range(3), key=lambda i: (-scores[i], -i))
    return LABELS[order[0]]


# --- 1. supplied norms --------------------------------------------------------------------------------------


def norm_scores(polarity: Polarity, carries_out: float, prior: np.ndarray) -> np.ndarray:
    """What a norm of ``polarity`` makes of a behaviour that carries out its behaviour with probability
    ``carries_out``: an obligation done is expected and undone unexpected; a prohibition done is unexpected
    and avoided okay; a permission done is okay and otherwise says nothing (the prior fills that share)."""
    q = float(carries_out)
    if polarity == "obligatory":
        return q * onehot(Label.expected) + (1 - q) * onehot(Label.unexpected)
    if polarity == "prohibitive":
        return q * onehot(Label.unexpected) + (1 - q) * onehot(Label.okay)
    return q * onehot(Label.okay) + (1 - q) * prior


def supplied_norms(
    norms: Sequence[str | SuppliedNorm],
    behavior_vec: np.ndarray,
    vectors: Vectors,
    model: JudgeModel,
    prior: np.ndarray,
) -> Outcome:
    read = []
    for n in norms:
        text, label = (n, None) if isinstance(n, str) else (n.text, n.label)
        r = read_norm(text)
        polarity, cue = r.polarity, r.cue
        if label is not None:  # the caller said what the norm makes of its behaviour
            polarity, cue = _BY_LABEL[label], f"label {label.value}"
        read.append((text, r.behavior or text, polarity, cue))
    phrase_vecs = vectors([b for _, b, _, _ in read])
    full_vecs = vectors([t for t, _, _, _ in read])
    relevance = np.maximum(phrase_vecs @ behavior_vec, full_vecs @ behavior_vec)
    carries = model.relation(phrase_vecs, np.repeat(behavior_vec[None, :], len(read), axis=0))
    evidence: list[Evidence] = []
    weighted: list[tuple[float, np.ndarray, int]] = []
    for i, (text, phrase, polarity, cue) in enumerate(read):
        note_cue = cue
        if polarity is None:  # no wording to go by: the polarity head reads the norm's embedding
            p = model.polarity(full_vecs[i])[0]
            polarity = POLARITIES[int(p.argmax())]
            note_cue = f"model {p.max():.2f}"
        rel = float(relevance[i])
        relevant = rel >= model.relevance_threshold
        scores = norm_scores(polarity, float(carries[i]), prior)
        label = top_label(scores)
        verb = "carries out" if carries[i] >= 0.5 else "goes against"
        evidence.append(
            Evidence(
                text=text,
                label=label if relevant else None,
                source="caller",
                relation="supplied",
                relevance=round(rel, 4),
                score=round(float(carries[i]), 4),
                note=(f"{polarity} ({note_cue}) about '{phrase}'; the behaviour {verb} it"
                      if relevant else f"not relevant (similarity {rel:.2f} < {model.relevance_threshold:.2f}): does not decide"),
            )
        )
        if relevant:
            weighted.append((rel, scores, i))
    if not weighted:
        return GaveWay(f"none of the {len(norms)} supplied norm(s) bears on the behaviour", evidence)
    total = sum(w for w, _, _ in weighted)
    scores = normalised(np.asarray(sum(w * s for w, s, _ in weighted) / total))
    conflicts = []
    labels = {top_label(s) for _, s, _ in weighted}
    if len(labels) > 1:
        conflicts.append(
            Conflict(stage="supplied_norms", ids=[f"norm:{i}" for _, _, i in weighted], labels=[top_label(s) for _, s, _ in weighted])
        )
    return Decision(scores, evidence, conflicts, f"{len(weighted)} supplied norm(s) bear on the behaviour")


# --- 2. frame resolution ------------------------------------------------------------------------------------


def from_resolution(result: "BehaviorResult", prior: np.ndarray, matched: str) -> Outcome:
    evidence = [
        Evidence(id=n.id, text=n.text, label=n.label, source=n.source, relation="applicable", score=n.weight)
        for n in result.norms
    ]
    evidence += [
        Evidence(id=n.id, text=n.text, label=n.label, relation="defeated", note=f"defeated by {', '.join(n.defeated_by)}")
        for n in result.defeated
    ]
    evidence += [
        Evidence(id=n.id, text=n.text, label=n.label, relation="conditional", note="would hold if " + " and ".join(n.unknown))
        for n in result.conditional
    ]
    if result.label is None:
        return GaveWay(f"no norm of the bank about '{matched}' applies or conditionally applies under the facts", evidence)
    dist = normalised(np.array([result.distribution.get(label.value, 0.0) for label in LABELS]))
    mix = FRAME_PRIOR_MIX if result.basis == "applicable" else CONDITIONAL_PRIOR_MIX
    scores = normalised((1 - mix) * dist + mix * prior)
    conflicts = [
        Conflict(stage="frame_resolution", ids=[a, b], labels=[_label_of(result, a), _label_of(result, b)])
        for a, b in result.conflicts
    ]
    return Decision(scores, evidence, conflicts, f"{result.basis} norm(s) about '{matched}' (confidence {result.confidence:.2f})")


def _label_of(result: "BehaviorResult", norm_id: str) -> Label:
    return next(n.label for n in result.norms if n.id == norm_id)


# --- 3. retrieved neighbours --------------------------------------------------------------------------------


@dataclass
class Neighbour:
    id: str
    text: str
    label: Label
    source: str
    similarity: float
    score: float
    country: str | None


def neighbours(found: Sequence[Neighbour], threshold: float, prior: np.ndarray, country: str | None) -> Outcome:
    evidence = []
    votes = np.zeros(3)
    kept = 0
    best = max((n.similarity for n in found), default=None)
    for n in found:
        if country and n.country and n.country != country:
            continue  # a norm of another country does not hold here
        if n.similarity < threshold:
            continue
        kept += 1
        # a neighbour counts by how far above the gate it is, so a barely relevant one barely counts
        w = (n.similarity - threshold) / (1 - threshold) + 0.1
        votes += w * onehot(n.label)
        evidence.append(Evidence(id=n.id, text=n.text, label=n.label, source=n.source, relation="retrieved",
                                 relevance=round(n.similarity, 4), score=round(n.score, 6)))
    if not kept:
        best_s = "nothing retrieved" if best is None else f"best similarity {best:.2f}"
        return GaveWay(f"no relevant neighbour in the bank ({best_s} < {threshold:.2f})")
    dist = votes / votes.sum()
    if dist.max() < NEIGHBOUR_MIN_SHARE:
        return GaveWay(f"the {kept} relevant neighbours disagree (largest share {dist.max():.2f})", evidence)
    # more and closer neighbours earn more of the scores, up to NEIGHBOUR_WEIGHT
    weight = NEIGHBOUR_WEIGHT * min(1.0, votes.sum() / 1.5)
    scores = normalised(weight * dist + (1 - weight) * prior)
    return Decision(scores, evidence, [], f"{kept} relevant neighbour(s), weighted by similarity")


# --- 4. the model prior -------------------------------------------------------------------------------------


def model_prior(prior: np.ndarray, behavior: str, model_name: str) -> Decision:
    label = top_label(prior)
    return Decision(
        normalised(prior),
        [Evidence(text=behavior, label=label, source=model_name, relation="model", score=round(float(prior.max()), 4))],
        [],
        "the judge's own classifier of the behaviour alone",
    )


STAGES: tuple[StageName, ...] = ("supplied_norms", "frame_resolution", "retrieval", "model_prior")
