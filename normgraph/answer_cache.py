"""A per-process cache of serialised answers: a repeated question is a dict lookup.

Bounded by the bytes it holds (least recently used out first); an answer larger than an eighth of the budget
is not kept. Each answer is tagged with the generation of the data it was computed from, and an answer from
another generation is a miss, so a cache can follow an index that changes under it; callers whose data only
changes through them use one generation and ``clear()`` on writes.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Hashable


class AnswerCache:
    def __init__(self, budget_bytes: int) -> None:
        self.budget = budget_bytes
        self.used = 0
        self.data: OrderedDict[Hashable, tuple[int, bytes]] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: Hashable, generation: int = 0) -> bytes | None:
        with self.lock:
            hit = self.data.get(key)
            if hit is None or hit[0] != generation:
                return None
            self.data.move_to_end(key)
            return hit[1]

    def put(self, key: Hashable, answer: bytes, generation: int = 0) -> None:
        if len(answer) > self.budget // 8:
            return
        with self.lock:
            old = self.data.pop(key, None)
            if old is not None:
                self.used -= len(old[1])
            self.data[key] = (generation, answer)
            self.used += len(answer)
            while self.used > self.budget:
                self.used -= len(self.data.popitem(last=False)[1][1])

    def clear(self) -> None:
        with self.lock:
            self.data.clear()
            self.used = 0
