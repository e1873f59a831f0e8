"""Liveness and readiness: the store answers and how much it holds."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

import normgraph
from api.deps import ServiceDep
from api.schemas import ERROR_RESPONSES, Health, json_response

router = APIRouter(tags=["health"])


@router.get(
    "/healthz",
    response_model=Health,
    summary="Is the service up, and what store does it serve",
    responses={503: ERROR_RESPONSES[503]},
)
def healthz(service: ServiceDep) -> Response:
    return json_response(
        Health(
            ok=True,
            store=service.store.name,
            read_only=service.store.read_only,
            statements=service.statement_count(),
            version=normgraph.__version__,
        )
    )
