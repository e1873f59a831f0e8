"""Situations: the free-text situations rules of thumb, values, rights, duties and norms were written for, with
everything the graph links to each."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from api.deps import ServiceDep
from api.schemas import ERROR_RESPONSES, json_response
from normgraph.situations import SituationView

router = APIRouter(prefix="/v1/situations", tags=["situations"])

_DESCRIPTION = (
    "The situation node with the statements written for it — rules of thumb (Social-Chem-101, Moral Stories), "
    "values, rights and duties (ValuePrism, ETHICS), norms (Moral Stories' judged actions, ETHICS, PrivacyLens) — "
    "the behaviours they judge, the statements about a behaviour spelled like the situation, and the attribution "
    "the sources' licences ask for. Only statements that answer queries (trusted or approved) are listed; at most "
    "`limit` per kind."
)


@router.get(
    "",
    response_model=SituationView,
    summary="A situation by its text",
    description=_DESCRIPTION + " The text is matched as the graph normalises it (case, spacing, punctuation).",
    responses={404: ERROR_RESPONSES[404], 422: ERROR_RESPONSES[422]},
)
def find_situation(
    service: ServiceDep,
    text: Annotated[str, Query(min_length=1, max_length=20000, description="the situation as written")],
    limit: Annotated[int | None, Query(ge=1, description="statements per kind (default NORMGRAPH_PAGE_LIMIT)")] = None,
) -> Response:
    return json_response(service.situation(text, limit=limit))


@router.get(
    "/{situation_id:path}",
    response_model=SituationView,
    summary="A situation by id, with everything linked to it",
    description=_DESCRIPTION,
    responses={404: ERROR_RESPONSES[404], 422: ERROR_RESPONSES[422]},
)
def get_situation(
    situation_id: Annotated[
        str, Path(description="situation id, e.g. situation/leave-a-tip (the prefix may be left out)", max_length=200)
    ],
    service: ServiceDep,
    limit: Annotated[int | None, Query(ge=1, description="statements per kind (default NORMGRAPH_PAGE_LIMIT)")] = None,
) -> Response:
    return json_response(service.situation(situation_id, limit=limit))
