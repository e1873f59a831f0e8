"""Norms: frame queries ("what holds here?") and statements by id."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from starlette.responses import Response

from api.deps import ServiceDep
from api.schemas import ERROR_RESPONSES, QueryRequest, cache_first, json_response
from normgraph.frames.results import QueryResult
from normgraph.models import AnyStatement

router = APIRouter(prefix="/v1/norms", tags=["norms"])


# A cached answer is served from the event loop, since a thread-pool hop is most of a cached request's time;
# anything that reads the store runs in the thread pool, so one slow read never stalls other requests.
@router.post(
    "/query",
    response_model=QueryResult,
    summary="What holds in a setting, given facts",
    description=(
        "Resolves the norms of the setting (and its broader settings) against the caller's facts, per "
        "behaviour: applicable norms decide; a strictly more specific applicable norm with another label "
        "defeats a less specific one; norms with unknown constraints are reported as conditional "
        "('would hold if …') and decide only when nothing applies. Behaviours come in name order, a page at a "
        "time: pass `next_cursor` back as `cursor`."
    ),
    responses={k: v for k, v in ERROR_RESPONSES.items() if k != 503},
)
async def query_norms(body: QueryRequest, service: ServiceDep) -> Response:
    return await cache_first(
        service.query_json,
        body.setting,
        body.behavior,
        body.facts,
        limit=body.limit,
        cursor=body.cursor,
        include_defeated=body.include_defeated,
    )


@router.get(
    "/{statement_id}",
    response_model=AnyStatement,
    summary="A statement by id, with its provenance",
    description="Norms, rules of thumb, values, rights and duties share this endpoint; `kind` says which.",
    responses={404: ERROR_RESPONSES[404]},
)
def get_norm(
    statement_id: Annotated[str, Path(description="statement id, e.g. n-3f2a9c0d1e2b4a5c", max_length=200)],
    service: ServiceDep,
) -> Response:
    return json_response(service.get_statement(statement_id))
