"""A LangChain retriever over the bank: ``NormRetriever(retriever=...).invoke("situation")`` returns
``Document``s whose ``page_content`` is the statement's text and whose ``metadata`` carries its id (to cite),
kind, label, setting, source and score.

Needs ``langchain-core`` (``pip install 'normgraph[langchain]'``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field

from normgraph.embed import DEFAULT_BACKEND
from normgraph.retrieval import MAX_K, Retriever, RetrievalHit


class NormRetriever(BaseRetriever):
    """``retriever``: an open ``normgraph.retrieval.Retriever`` (see ``from_home``)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    retriever: Retriever
    k: int = Field(5, ge=1, le=MAX_K)
    filters: dict[str, Any] | None = None
    mode: str = "hybrid"

    @classmethod
    def from_home(
        cls, home: str | Path, *, model: str | None = None, backend: str = DEFAULT_BACKEND, store: str = "oxigraph", **kwargs: Any
    ) -> "NormRetriever":
        """Open the bank at ``home`` read-only with its retrieval index; ``model`` and ``backend`` must name the
        vector space the index was built in (as ``NORMGRAPH_EMBEDDING_MODEL``/``_BACKEND`` do)."""
        from normgraph.embed import open_cached_embedder
        from normgraph.store import open_store

        home = Path(home)
        bank = open_store(store, home / "store", read_only=True)
        embedder = open_cached_embedder(home, model, backend=backend)
        return cls(retriever=Retriever.open(bank, home, embedder=embedder), **kwargs)

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        result = self.retriever.retrieve(query, self.k, self.filters, mode=self.mode)  # type: ignore[arg-type]
        return [_document(h) for h in result.results]

    # The async path is langchain-core's default: the sync search in an executor thread.


def _document(h: RetrievalHit) -> Document:
    metadata = h.model_dump(mode="json", exclude={"text"}, exclude_none=True)
    return Document(page_content=h.text, metadata=metadata, id=h.id)
