"""BM25 over statement texts with ``bm25s`` (sparse matrices in numpy), Snowball-stemmed.

Chosen over SQLite FTS5 by measurement on Social-Chem-101 (docs/decisions/0004-retrieval.md): with the same
stemming, bm25s scored a little higher (recall@10 0.225 vs 0.216) and answered several times faster (FTS5
must rank every document matching any query word with an OR query; bm25s scores all documents with a few
sparse column sums and lets us apply the filter mask before taking the top k). Its cost is that it is not
incremental: it is rebuilt over every position whenever the bank changes, a few seconds at 155k statements.

Positions are the vector index's positions; tombstones are indexed as empty documents.
"""

from __future__ import annotations

import json
import re
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import bm25s
import numpy as np
import Stemmer

TOKENIZER_VERSION = "1"
_word = re.compile(r"[a-z0-9]+")
# Function words carry no topic; negations are kept because "not" flips a norm.
_STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below between
    both but by can did do does doing down during each few for from further had has have having he her here hers
    herself him himself his how i if in into is it its itself just me more most my myself now of off on once
    only or other our ours ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were what when where
    which while who whom why will with you your yours yourself yourselves s t""".split()
)
_stemmer = Stemmer.Stemmer("english")


@lru_cache(maxsize=262_144)
def _stem(word: str) -> str:
    return _stemmer.stemWord(word)


def tokenize(text: str) -> list[str]:
    low = unicodedata.normalize("NFKC", text).lower()
    return [_stem(w) for w in _word.findall(low) if w not in _STOPWORDS]


class LexicalIndex:
    def __init__(self, bm25: "bm25s.BM25", n: int) -> None:
        self._bm25 = bm25
        self.n = n
        self._vocab: dict[str, int] = bm25.vocab_dict

    @classmethod
    def build(cls, texts: Sequence[str]) -> "LexicalIndex":
        bm25 = bm25s.BM25()
        # bm25s rejects an empty corpus and documents without a single token; a placeholder token nobody can
        # type keeps positions aligned.
        docs = [tokenize(t) or ["\x00"] for t in texts] or [["\x00"]]
        bm25.index(docs, show_progress=False)
        return cls(bm25, len(texts))

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._bm25.save(str(directory), show_progress=False)
        (directory / "normgraph.json").write_text(json.dumps({"n": self.n, "tokenizer": TOKENIZER_VERSION}))

    @classmethod
    def load(cls, directory: Path, *, mmap: bool = True) -> "LexicalIndex":
        meta = json.loads((directory / "normgraph.json").read_text())
        if meta.get("tokenizer") != TOKENIZER_VERSION:
            raise ValueError(f"lexical index at {directory} uses tokenizer {meta.get('tokenizer')}, not {TOKENIZER_VERSION}")
        bm25 = bm25s.BM25.load(str(directory), mmap=mmap, show_progress=False)
        # Plain ndarray views of the mapped arrays: same pages (shared by server workers), but indexing an
        # np.memmap wraps every result in a memmap object, which cost ~0.3 ms per query.
        scores = getattr(bm25, "scores", None)
        if isinstance(scores, dict):
            bm25.scores = {k: np.asarray(v) if isinstance(v, np.memmap) else v for k, v in scores.items()}
        return cls(bm25, int(meta["n"]))

    def search(self, query: str, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k ``(scores, positions)`` with a positive score, best first; ``allowed`` masks positions."""
        tokens = [t for t in dict.fromkeys(tokenize(query)) if t in self._vocab]
        if not tokens or self.n == 0:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        scores = np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)[: self.n]
        if allowed is not None:
            scores = np.where(allowed[: self.n], scores, 0.0)
        hits = np.flatnonzero(scores > 0)
        if len(hits) > k:
            hits = hits[np.argpartition(-scores[hits], k - 1)[:k]]
        order = hits[np.lexsort((hits, -scores[hits]))]
        return scores[order], order.astype(np.int64)
