"""The judge's figures, side by side (docs/decisions/0009-judge.md):

1. ETHICS commonsense hard test (``ethics/cm_test_hard.csv``, a published TEST split: evaluated here, never
   trained or tuned on): accuracy and macro-F1 of the full judge, retrieval alone, the model prior alone and the
   majority class of the training data; label 1 -> unexpected, 0 -> okay (expected counts as not wrong);
2. norm following on the Moral Stories norms held out by ``normgraph train judge`` (split by norm): norm +
   action -> follows / violates, with the original norm and with it negated (labels swapped), and how often an
   unrelated norm is (rightly) ignored;
3. ECE of the scores on both;
4. latency per item (p50, p95) and batch throughput on this CPU.

The bank is the demo bank in a fresh temporary home, with the default (int8) encoder, as `make serve` has it.

    .venv/bin/python bench/judge_eval.py [--data ../shared/data] [--model DIR] [--stories N] [--hard N]
"""

from __future__ import annotations

import argparse
import csv
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from normgraph.judge import data as D  # noqa: E402
from normgraph.judge.calibration import expected_calibration_error  # noqa: E402
from normgraph.judge.polarity import negate  # noqa: E402
from normgraph.judge.train import norm_group, split  # noqa: E402
from normgraph.services import NormBankService  # noqa: E402
from normgraph.settings import Settings  # noqa: E402

csv.field_size_limit(10_000_000)


def macro_f1(pred: list[int], gold: list[int]) -> float:
    f1s = []
    for c in (0, 1):
        tp = sum(p == c and g == c for p, g in zip(pred, gold))
        fp = sum(p == c and g != c for p, g in zip(pred, gold))
        fn = sum(p != c and g == c for p, g in zip(pred, gold))
        f1s.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return sum(f1s) / 2


def acc(pred, gold) -> float:
    return sum(p == g for p, g in zip(pred, gold)) / len(gold)


def table(headers, rows) -> str:
    cells = [[str(h) for h in headers], *[[str(v) for v in r] for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def hard_test(service: NormBankService, data: Path, limit: int | None) -> None:
    rows = list(csv.DictReader((data / "ethics" / "cm_test_hard.csv").open(encoding="utf-8")))
    if limit:
        rows = random.Random(0).sample(rows, min(limit, len(rows)))
    gold = [int(r["label"]) for r in rows]
    train_wrong = sum(e.label == D.UNEXPECTED for e in D.commonsense(data / "ethics" / "cm_train_short.csv"))
    train_rows = len(D.commonsense(data / "ethics" / "cm_train_short.csv"))
    majority = 1 if train_wrong > train_rows / 2 else 0
    judge = service.judge
    full, retrieval, prior, p_full, decided_by = [], [], [], [], {}
    retrieval_decided = 0
    t0 = time.monotonic()
    for r in rows:
        text = r["input"][:2000]  # the judge's documented limit (the encoder reads ~1,000 characters anyway)
        res = judge.judge({"behavior": text})
        full.append(int(res.label.value == "unexpected"))
        p_full.append(res.scores.unexpected)
        decided_by[res.method] = decided_by.get(res.method, 0) + 1
        ro = judge.judge({"behavior": text}, stages=("retrieval",))
        if ro.method == "retrieval":
            retrieval_decided += 1
            retrieval.append(int(ro.label.value == "unexpected"))
        else:
            retrieval.append(majority)
        mo = judge.judge({"behavior": text}, stages=("model_prior",))
        prior.append(int(mo.label.value == "unexpected"))
    seconds = time.monotonic() - t0
    short = [i for i, r in enumerate(rows) if r["is_short"] == "True"]
    longs = [i for i, r in enumerate(rows) if r["is_short"] != "True"]
    sub = lambda xs, idx: [xs[i] for i in idx]  # noqa: E731
    print(f"\n## ETHICS commonsense, hard test ({len(rows)} rows; 1 = wrong -> unexpected; majority of the training data = {majority})")
    out = []
    for name, pred in (("full judge", full), ("retrieval only (else majority)", retrieval), ("model prior only", prior), ("majority class", [majority] * len(rows))):
        out.append((name, f"{acc(pred, gold):.3f}", f"{macro_f1(pred, gold):.3f}",
                    f"{acc(sub(pred, short), sub(gold, short)):.3f}", f"{acc(sub(pred, longs), sub(gold, longs)):.3f}"))
    print(table(("", "accuracy", "macro-F1", "acc. short rows", "acc. long rows"), out))
    print(f"retrieval decided {retrieval_decided} of {len(rows)} rows on its own; the full judge was decided by {decided_by}")
    probs = np.array(p_full)
    print(f"ECE (P(unexpected) vs wrong, 15 bins): {expected_calibration_error(probs, np.array(gold)):.3f}")
    print(f"({seconds:.0f}s for three passes)")


def norm_following(service: NormBankService, data: Path, limit: int | None) -> None:
    stories = [s for s in D.moral_stories(data / "moral-stories" / "norm_actions_train.jsonl") if split(norm_group(s.norm)) == "test"]
    if limit:
        stories = random.Random(0).sample(stories, min(limit, len(stories)))
    judge = service.judge
    results = {"original": [], "negated": [], "no norm": []}
    probs = {"original": [], "negated": []}
    unreadable = 0
    ignored, relevant_kept = 0, 0
    rng = random.Random(1)
    for i, s in enumerate(stories):
        neg = negate(s.norm, variant=i)
        for action, follows in ((s.moral, 1), (s.immoral, 0)):
            r = judge.judge({"behavior": action, "norms": [s.norm]})
            results["original"].append((int(r.label.value != "unexpected"), follows))
            probs["original"].append((1 - r.scores.unexpected, follows))
            relevant_kept += r.method == "supplied_norms"
            if neg is not None:
                rn = judge.judge({"behavior": action, "norms": [neg[0]]})
                results["negated"].append((int(rn.label.value != "unexpected"), 1 - follows))
                probs["negated"].append((1 - rn.scores.unexpected, 1 - follows))
            else:
                unreadable += 1
            rp = judge.judge({"behavior": action}, stages=("model_prior",))
            results["no norm"].append((int(rp.label.value != "unexpected"), follows))
            other = stories[rng.randrange(len(stories))]
            if other.norm != s.norm:
                ri = judge.judge({"behavior": action, "norms": [other.norm]})
                ignored += ri.method != "supplied_norms"
    n = 2 * len(stories)
    print(f"\n## Norm following: Moral Stories, {len(stories)} held-out norms (split by norm), {n} (norm, action) pairs")
    rows = []
    for name, pairs in results.items():
        pred = [p for p, _ in pairs]
        gold = [g for _, g in pairs]
        rows.append((f"{name} norm" if name != "no norm" else "no norm (model prior: follows = not unexpected)",
                     len(pairs), f"{acc(pred, gold):.3f}", f"{macro_f1(pred, gold):.3f}"))
    print(table(("norm given", "pairs", "accuracy", "macro-F1"), rows))
    a_o = acc(*zip(*results["original"]))
    a_n = acc(*zip(*results["negated"]))
    print(f"gap original - negated: {100 * (a_o - a_n):+.1f} points; {unreadable // 2} norm(s) whose wording could not be negated")
    for name, pairs in probs.items():
        p = np.array([x for x, _ in pairs])
        g = np.array([y for _, y in pairs])
        print(f"ECE ({name} norm, P(follows), 15 bins): {expected_calibration_error(p, g):.3f}")
    print(f"the supplied norm decided for {relevant_kept / n:.3f} of its own actions; an unrelated norm was ignored for {ignored / n:.3f}")


def latency(service: NormBankService) -> None:
    judge = service.judge
    requests = [
        {"behavior": "shout", "setting": "restaurant", "facts": ["[PERSON]'s role is 'customer'"]},
        {"behavior": "answering my phone during the funeral service"},
        {"behavior": "I ate dinner with my hands", "norms": ["In this community it is expected to eat with your hands."]},
        {"behavior": "leave a tip", "setting": "restaurant", "country": "japan", "facts": ["[PERSON]'s role is 'customer'"]},
        {"behavior": "I borrowed my neighbour's lawnmower without asking"},
    ]
    # never-seen texts (the judge caches vectors): a counter makes each request new
    times = []
    for i in range(300):
        req = dict(requests[i % len(requests)])
        req["behavior"] = f"{req['behavior']} ({i})" if i % len(requests) not in (0, 3) else req["behavior"]
        t = time.perf_counter()
        judge.judge(req)
        times.append(1000 * (time.perf_counter() - t))
    times.sort()
    print("\n## Latency (in-process, one item at a time, new texts)")
    print(f"p50 {statistics.median(times):.1f} ms, p95 {times[int(0.95 * len(times))]:.1f} ms over {len(times)} items")
    batch = []
    for i in range(256):
        req = dict(requests[i % len(requests)])
        req["behavior"] = f"{req['behavior']} [batch {i}]"
        batch.append(req)
    t = time.perf_counter()
    judge.judge_batch(batch)
    s = time.perf_counter() - t
    print(f"batch of 256 new items: {s:.2f}s, {256 / s:.0f} items/s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--model", type=Path, help="judge model directory (default: the shipped weights)")
    ap.add_argument("--stories", type=int, help="at most this many held-out Moral Stories norms (default all)")
    ap.add_argument("--hard", type=int, help="at most this many cm_test_hard rows (default all)")
    ap.add_argument("--skip", nargs="*", default=[], choices=["hard", "norms", "latency"])
    args = ap.parse_args()
    if not args.data.is_dir():
        print(f"no data at {args.data}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(home=Path(tmp), judge_model=args.model)
        with NormBankService(settings) as service:
            t = time.monotonic()
            service.load_demo(with_taxonomy=False)
            print(f"demo bank loaded and indexed in {time.monotonic() - t:.1f}s; judge model {service.judge.model().path}")
            if "latency" not in args.skip:
                latency(service)
            if "norms" not in args.skip:
                norm_following(service, args.data, args.stories)
            if "hard" not in args.skip:
                hard_test(service, args.data, args.hard)
    return 0


if __name__ == "__main__":
    sys.exit(main())
