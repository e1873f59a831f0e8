"""Micro-batching of concurrent query encodings.

One short query costs ~20 ms of CPU on this class of machine (six BERT layers on ~15 tokens: the matrix
products are too thin to use the cores well), while a batch of 32 costs ~4 ms a sentence. A server answering
concurrent requests from a thread pool therefore encodes the queries that arrive together as one batch: the
first caller becomes the leader, waits ``wait_ms`` for company, encodes everything pending, and hands each
caller its vector. A lone caller pays only the short wait.

An embedder whose vectors depend on their batch-mates (``normgraph.embed.base.batch_invariant``) gets batches
of one: concurrent queries still take turns on the model, but each is encoded alone, exactly as when the
server is idle.
"""

from __future__ import annotations

import threading
import time
from typing import Sequence

import numpy as np

from normgraph.embed.base import Embedder, batch_invariant


class _Pending:
    __slots__ = ("text", "vector", "error", "done")

    def __init__(self, text: str) -> None:
        self.text = text
        self.vector: np.ndarray | None = None
        self.error: BaseException | None = None
        self.done = False


class QueryBatcher:
    def __init__(self, embedder: Embedder, *, max_batch: int = 32, wait_ms: float = 1.0) -> None:
        self.embedder = embedder
        invariant = batch_invariant(embedder)
        self.max_batch = max_batch if invariant else 1
        self.wait = wait_ms / 1000.0 if invariant else 0.0
        self._cond = threading.Condition()
        self._queue: list[_Pending] = []
        self._leading = False
        self.batches = 0
        self.encoded = 0

    def encode_one(self, text: str) -> np.ndarray:
        item = _Pending(text)
        with self._cond:
            self._queue.append(item)
        while True:
            with self._cond:
                while not item.done and self._leading:
                    self._cond.wait()
                if item.done:
                    break
                self._leading = True
            # This thread leads one batch (the oldest pending queries), then hands over.
            if self.wait > 0:
                time.sleep(self.wait)
            with self._cond:
                batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
            self._run(batch)
            with self._cond:
                self._leading = False
                self._cond.notify_all()
        if item.error is not None:
            raise item.error
        assert item.vector is not None
        return item.vector

    def _run(self, batch: Sequence[_Pending]) -> None:
        try:
            vecs = self.embedder.encode([p.text for p in batch])
            self.batches += 1
            self.encoded += len(batch)
            for p, v in zip(batch, vecs, strict=True):
                p.vector = v
        except BaseException as e:  # noqa: BLE001 - every waiting caller gets the error (re-raised there), none hangs
            for p in batch:
                p.error = e
        finally:
            with self._cond:
                for p in batch:
                    p.done = True
