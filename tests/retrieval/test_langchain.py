"""The LangChain retriever against real langchain-core."""

from __future__ import annotations

import asyncio

import pytest
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever

from normgraph.index import build
from normgraph.integrations.langchain import NormRetriever
from tests.ranking import assert_clearly_first, retriever_search


def test_invoke_returns_documents_with_citable_metadata(retriever, store):
    lc = NormRetriever(retriever=retriever, k=3)
    assert isinstance(lc, BaseRetriever)
    docs = lc.invoke("my phone rings during my colleague's funeral")
    assert len(docs) == 3 and all(isinstance(d, Document) for d in docs)
    top = docs[0]
    assert top.metadata["id"] == top.id
    assert_clearly_first(retriever_search(retriever, "my phone rings during my colleague's funeral"), "rot-phone-funeral", top.id)
    assert top.page_content == store.get_statement("rot-phone-funeral").text
    assert {"kind", "score", "source", "review_state"} <= set(top.metadata)
    assert "text" not in top.metadata

    filtered = NormRetriever(retriever=retriever, k=10, filters={"setting": "library", "kinds": ["norm"]}).invoke("noise")
    assert {d.metadata["setting"] for d in filtered} == {"library"}
    assert {d.metadata["kind"] for d in filtered} == {"norm"}

    # The async path (what LCEL chains use under ainvoke) gives the same documents.
    again = asyncio.run(lc.ainvoke("my phone rings during my colleague's funeral"))
    assert [d.id for d in again] == [d.id for d in docs]


def test_from_home_opens_the_bank_read_only(store, home, embedder):
    build(store, home, embedder)
    store.close()
    lc = NormRetriever.from_home(home, k=2)
    try:
        assert lc.retriever.store.read_only
        assert [d.id for d in lc.invoke("leaving a tip for the waitress")][0] == "n-tip-diner"
    finally:
        lc.retriever.close()
        lc.retriever.store.close()


def test_k_is_validated():
    with pytest.raises(ValueError):
        NormRetriever(retriever=None, k=0)  # type: ignore[arg-type]
