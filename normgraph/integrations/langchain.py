"""LangChain over the bank: ``NormRetriever(retriever=...).invoke("situation")`` returns ``Document``s whose
``page_content`` is the statement's text and whose ``metadata`` carries its id (to cite), kind, label, setting,
source and score; ``NormJudgeTool`` is a tool an agent calls to judge a behaviour.

Needs ``langchain-core`` (``pip install 'normgraph[langchain]'``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun, CallbackManagerForToolRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.tools import BaseTool
from pydantic import BaseModel, ConfigDict, Field

from normgraph.embed import DEFAULT_BACKEND
from normgraph.judge.schemas import JudgeRequest
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


class NormJudgeTool(BaseTool):
    """A LangChain tool that judges a behaviour expected / okay / unexpected over the bank (the caller's norms
    first, then the bank's frames, its nearest statements, the judge's prior). ``judge``: a
    ``normgraph.judge.service.JudgeService`` (see ``from_home``). Returns the ``JudgeResult`` as a dict."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    name: str = "judge_behavior"
    description: str = (
        "Judge whether a behaviour (an action or a short situation) is expected, okay or unexpected. Optional: "
        "setting, facts (NormBank constraints), norms (the community's own norms in words, followed over the "
        "bank's), country. Returns the label, scores, the stage that decided and the evidence with citation ids."
    )
    args_schema: type[BaseModel] = JudgeRequest
    judge: Any

    @classmethod
    def from_home(cls, home: str | Path, *, judge_model: str | Path | None = None, **settings: Any) -> "NormJudgeTool":
        """Open the bank at ``home`` read-only (its retrieval index, if any, and the configured encoder)."""
        from normgraph.services import NormBankService
        from normgraph.settings import Settings

        service = NormBankService(Settings(home=Path(home), read_only=True, judge_model=judge_model, **settings))
        return cls(judge=service.judge)

    def close(self) -> None:
        self.judge.bank.close()

    def _run(self, run_manager: CallbackManagerForToolRun | None = None, **kwargs: Any) -> dict[str, Any]:
        request = {k: v for k, v in kwargs.items() if v is not None}
        return self.judge.judge(request).model_dump(mode="json", exclude_none=True)
