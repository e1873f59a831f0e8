"""Retrieval for agents and applications: free text in, the most relevant statements (or a ready-made prompt
block with citations) out.

The handlers are ``async`` and answer a repeated request from the service's answer cache on the event loop;
anything else (encoding the query, searching, reading the store) runs in the thread pool, so a request that
encodes never blocks the loop. Concurrent requests that reach the pool together are encoded as one batch
(``normgraph.embed.batching``). Measured against plain ``def`` handlers in docs/decisions/0006-retrieval-http.md.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from api.deps import ServiceDep
from api.schemas import ERROR_RESPONSES, ErrorResponse, FactList, FactString, cache_first
from normgraph.prompting import DEFAULT_K, MAX_MAX_TOKENS, MIN_MAX_TOKENS, PromptResult
from normgraph.retrieval import MAX_K, MAX_QUERY_CHARS, RetrievalFilters, RetrievalResult

router = APIRouter(prefix="/v1", tags=["retrieval"])

_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "the `setting` filter names no setting of this bank"},
    422: {
        "model": ErrorResponse,
        "description": "invalid request: empty or too long text, k out of range, unknown filter fields, kinds or "
        "labels, constraint syntax in facts, facts without a setting filter",
    },
    500: ERROR_RESPONSES[500],
    503: {
        "model": ErrorResponse,
        "description": "no retrieval index, or one out of date with the store or the configured model "
        "(`index_missing`, `index_out_of_date`: the message names the fix, `normgraph index build`), or "
        "retrieval not installed (`retrieval_unavailable`)",
    },
}

_FILTERS = (
    "graph filters, all of which must hold: `setting` (that setting or any broader one, by name or alias), "
    "`kinds`, `sources`, `labels`, `country`, `review_states` (default approved and trusted); unknown fields are "
    "a 422"
)
_FACTS = (
    "with a `setting` filter: what the caller asserts (NormBank constraints), to re-rank norms by frame "
    "resolution — applicable ones up, defeated and violated ones down"
)


class RetrieveRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"query": "I'm at my colleague's funeral and my phone rings", "k": 5},
                {
                    "query": "my toddler is shouting at the table",
                    "k": 5,
                    "filters": {"setting": "restaurant", "kinds": ["norm"]},
                    "facts": ["[PERSON]'s role is 'customer'", "[PERSON]'s age bracket is 'toddler'"],
                },
            ]
        },
    )

    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS, description="the situation in plain words")
    k: int = Field(10, ge=1, le=MAX_K, strict=True, description="how many results")
    filters: RetrievalFilters | None = Field(None, description=_FILTERS)
    mode: Literal["hybrid", "dense", "lexical"] = Field(
        "hybrid", description="hybrid (dense + BM25, rank-fused), or one of the two alone"
    )
    facts: FactList | FactString | None = Field(None, description=_FACTS)


class PromptRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"situation": "I'm at my colleague's funeral and my phone rings", "k": 6, "format": "markdown"},
                {"situation": "a guest wants to film the vows at a wedding", "format": "json", "max_tokens": 400},
            ]
        },
    )

    situation: str = Field(min_length=1, max_length=MAX_QUERY_CHARS, description="the situation in plain words")
    k: int = Field(DEFAULT_K, ge=1, le=MAX_K, strict=True, description="at most this many items")
    format: Literal["markdown", "json"] = Field("markdown", description="how the prompt block is written")
    max_tokens: int | None = Field(
        None,
        ge=MIN_MAX_TOKENS,
        le=MAX_MAX_TOKENS,
        strict=True,
        description="token budget of the prompt block (estimated on the high side); default 800",
    )
    filters: RetrievalFilters | None = Field(None, description=_FILTERS)
    facts: FactList | FactString | None = Field(None, description=_FACTS)


@router.post(
    "/retrieve",
    response_model=RetrievalResult,
    summary="The statements most relevant to a free-text situation",
    description=(
        "Hybrid retrieval over norms, rules of thumb, values, rights and duties: the query is embedded and "
        "searched in the vector index and in a BM25 index under the same graph filters, and the two rankings "
        "are fused (reciprocal rank fusion). Each result carries its id (cite it; `GET /v1/norms/{id}` returns "
        "the statement with its provenance), kind, text, score, setting, label and source."
    ),
    responses=_RESPONSES,
)
async def retrieve(body: RetrieveRequest, service: ServiceDep) -> Response:
    return await cache_first(service.retrieval.retrieve_json, body.query, body.k, body.filters, body.mode, body.facts)


@router.post(
    "/prompt",
    response_model=PromptResult,
    summary="A context block for an agent's prompt, with citations",
    description=(
        "The k most relevant items for the situation, near-duplicates removed, grouped (norms / rules of "
        "thumb / values, rights and duties), conflicts flagged, within `max_tokens`, each with a citation id "
        "an agent can quote. `template` names the versioned template that wrote it."
    ),
    responses=_RESPONSES,
)
async def prompt(body: PromptRequest, service: ServiceDep) -> Response:
    return await cache_first(
        service.retrieval.prompt_json, body.situation, body.k, body.format, body.max_tokens, body.filters, body.facts
    )
