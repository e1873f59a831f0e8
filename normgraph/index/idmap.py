"""The id map: vector positions <-> statement ids, tombstones, and what the filters need, in SQLite.

One row per position ever added (``items``); a row whose statement was deleted or whose text changed is a
tombstone (``live = 0``) until compaction renumbers the survivors. ``info`` holds the index's identity: the
model id the vectors were made with, the FAISS kind, and the *generation* naming the current vector and
lexical files — switching generation is one SQLite commit, so readers never see a vector file that does not
match the rows.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from normgraph.embed.cache import text_hash
from normgraph.ids import normalise_text
from normgraph.models import AnyStatement

FORMAT_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    pos          INTEGER PRIMARY KEY,
    id           TEXT NOT NULL,
    text_hash    TEXT NOT NULL,
    live         INTEGER NOT NULL,
    kind         TEXT NOT NULL,
    setting      TEXT NOT NULL,
    behavior     TEXT NOT NULL,
    label        TEXT NOT NULL,
    source       TEXT NOT NULL,
    country      TEXT NOT NULL,
    review_state TEXT NOT NULL,
    text         TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS items_live_id ON items(id) WHERE live = 1;
"""

# The columns filters select on, in this order in ``Meta``.
FILTER_COLUMNS = ("kind", "setting", "label", "source", "country", "review_state")


@dataclass(frozen=True)
class Meta:
    """What the index keeps about a statement: its text hash and the fields filters select on."""

    id: str
    text_hash: str
    kind: str
    setting: str
    behavior: str
    label: str
    source: str
    country: str
    review_state: str
    text: str

    @classmethod
    def of(cls, s: AnyStatement) -> "Meta":
        label = getattr(s, "label", None)
        return cls(
            id=s.id,
            text_hash=text_hash(s.text).hex(),
            kind=s.kind.value,
            setting=normalise_text(s.setting) if s.setting else "",
            behavior=normalise_text(s.behavior) if s.behavior else "",
            label=label.value if label is not None else "",
            source=s.provenance.source,
            country=normalise_text(s.country) if s.country else "",
            review_state=s.review_state.value,
            text=s.text,
        )

    def filter_fields(self) -> tuple[str, ...]:
        return (self.kind, self.setting, self.behavior, self.label, self.source, self.country, self.review_state)


class IdMap:
    def __init__(self, path: Path, *, create: bool = False) -> None:
        self.path = Path(path)
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        uri = f"file:{self.path}" + ("" if create else "?mode=rw")
        self._db = sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=60)
        self._db.execute("PRAGMA journal_mode=WAL")
        if create:
            self._db.executescript(_SCHEMA)
            self._db.commit()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- info -----------------------------------------------------------------------------------------------
    def info(self) -> dict[str, str]:
        with self._lock:
            return dict(self._db.execute("SELECT key, value FROM info").fetchall())

    # --- reads ----------------------------------------------------------------------------------------------
    def counts(self) -> tuple[int, int]:
        """(live rows, all rows)."""
        with self._lock:
            live, total = self._db.execute("SELECT COALESCE(SUM(live), 0), COUNT(*) FROM items").fetchone()
        return int(live), int(total)

    def live_items(self) -> dict[str, tuple[int, Meta]]:
        """statement id -> (position, meta) of every live row."""
        with self._lock:
            rows = self._db.execute(
                "SELECT pos, id, text_hash, kind, setting, behavior, label, source, country, review_state, text "
                "FROM items WHERE live = 1"
            ).fetchall()
        return {r[1]: (r[0], Meta(*r[1:])) for r in rows}

    def columns(self) -> tuple[int, np.ndarray, list[str], dict[str, list[str]]]:
        """``(ntotal, live mask, ids by position, column -> values by position)`` for the in-memory filters."""
        with self._lock:
            rows = self._db.execute(
                "SELECT pos, live, id, kind, setting, label, source, country, review_state FROM items ORDER BY pos"
            ).fetchall()
        n = rows[-1][0] + 1 if rows else 0
        if len(rows) != n:
            raise ValueError(f"index id map {self.path} has gaps in its positions")
        live = np.fromiter((r[1] == 1 for r in rows), dtype=bool, count=n)
        ids = [r[2] for r in rows]
        cols = {name: [r[3 + i] for r in rows] for i, name in enumerate(FILTER_COLUMNS)}
        return n, live, ids, cols

    def texts(self) -> list[str]:
        """Text by position; tombstones read as empty (the lexical index is rebuilt over every position)."""
        with self._lock:
            rows = self._db.execute("SELECT live, text FROM items ORDER BY pos").fetchall()
        return [t if live else "" for live, t in rows]

    def rows_at(self, positions: Sequence[int]) -> dict[int, tuple[str, str]]:
        """position -> (id, text hash)."""
        if not positions:
            return {}
        with self._lock:
            rows = self._db.execute(
                f"SELECT pos, id, text_hash FROM items WHERE pos IN ({','.join('?' * len(positions))})",
                [int(p) for p in positions],
            ).fetchall()
        return {r[0]: (r[1], r[2]) for r in rows}

    def hashes_at(self, positions: Sequence[int]) -> list[bytes]:
        with self._lock:
            rows = dict(
                self._db.execute(
                    f"SELECT pos, text_hash FROM items WHERE pos IN ({','.join('?' * len(positions))})",
                    [int(p) for p in positions],
                ).fetchall()
            ) if positions else {}
        return [bytes.fromhex(rows[int(p)]) for p in positions]

    # --- writes: everything of one build in one transaction -------------------------------------------------
    def commit_build(
        self,
        *,
        info: dict[str, str],
        replace_all: Iterable[tuple[int, Meta]] | None = None,
        tombstone: Iterable[int] = (),
        update_meta: Iterable[tuple[int, Meta]] = (),
        append: Iterable[tuple[int, Meta]] = (),
    ) -> None:
        """Apply a build: with ``replace_all`` every row is rewritten (a fresh or compacted index), otherwise
        tombstones, metadata updates and appended rows are applied; then ``info`` is written. One commit."""
        insert = (
            "INSERT INTO items (pos, id, text_hash, live, kind, setting, behavior, label, source, country, "
            "review_state, text) VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        with self._lock:
            db = self._db
            try:
                db.execute("BEGIN IMMEDIATE")
                if replace_all is not None:
                    db.execute("DELETE FROM items")
                    db.executemany(insert, ((p, m.id, m.text_hash, *m.filter_fields(), m.text) for p, m in replace_all))
                else:
                    db.executemany("UPDATE items SET live = 0 WHERE pos = ?", ((int(p),) for p in tombstone))
                    db.executemany(
                        "UPDATE items SET kind = ?, setting = ?, behavior = ?, label = ?, source = ?, country = ?, "
                        "review_state = ? WHERE pos = ?",
                        ((*m.filter_fields(), int(p)) for p, m in update_meta),
                    )
                    db.executemany(insert, ((p, m.id, m.text_hash, *m.filter_fields(), m.text) for p, m in append))
                db.execute("DELETE FROM info")
                db.executemany("INSERT INTO info (key, value) VALUES (?, ?)", sorted(info.items()))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
