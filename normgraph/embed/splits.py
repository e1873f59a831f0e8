"""The three-way split of a bank's situations, shared by `normgraph train retriever` and the benchmarks.

A situation's side is decided by the first byte of the SHA-256 of its text, so it is deterministic, needs no
stored state and keeps every rule written for one situation on one side. Below 51 (~20 %) is *dev* — the
split the retrieval benchmark has always tuned its fusion on, kept as it was so earlier tuning stays valid;
51–152 (~40 %) is *train*; 153 and above (~40 %) is *test*. Before training existed, everything from 51 up was
the benchmark's test split, so figures reported on that old test split include training data of a tuned model
and must not be compared with the new test split's.
"""

from __future__ import annotations

import hashlib
from typing import Literal

Split = Literal["dev", "train", "test"]
DEV_BELOW = 51
TEST_FROM = 153


def split_of(text: str) -> Split:
    first = hashlib.sha256(text.strip().encode("utf-8")).digest()[0]
    if first < DEV_BELOW:
        return "dev"
    return "train" if first < TEST_FROM else "test"
