"""A build killed before it committed leaves its generation's files behind; the next build frees them before it
writes its own, and never touches the generation readers are using."""

from __future__ import annotations

from pathlib import Path

from normgraph.index import build, index_dir
from normgraph.index.bank import BankIndex, lexical_dir, vectors_file


def test_the_next_build_removes_what_a_killed_build_left(store, home: Path, embedder) -> None:
    build(store, home, embedder, progress=False)
    directory = index_dir(home)
    index = BankIndex.open(home)
    current = index.generation
    index.close()
    # What a build killed mid-write of generation current+1 leaves: its vectors and a half-written lexical dir.
    orphan_vectors = vectors_file(directory, current + 1)
    orphan_vectors.write_bytes(b"\0" * 4096)
    orphan_lexical = lexical_dir(directory, current + 1)
    orphan_lexical.mkdir()
    (orphan_lexical / "part").write_bytes(b"\0" * 4096)

    report = build(store, home, embedder, progress=False)  # nothing changed in the store

    assert not orphan_vectors.exists() and not orphan_lexical.exists()
    after = BankIndex.open(home)
    try:
        assert vectors_file(directory, after.generation).is_file()
        assert lexical_dir(directory, after.generation).is_dir()
        assert after.live_count == report.live
    finally:
        after.close()
