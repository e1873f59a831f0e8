"""Settings: the taxonomy's places and situations, with their norm counts and vocabulary."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from starlette.responses import Response

from api.deps import ServiceDep
from api.pagination import PageParams, page_params
from api.schemas import ERROR_RESPONSES, json_response
from normgraph.services import SettingDetail, SettingsPage

router = APIRouter(prefix="/v1/settings", tags=["settings"])


@router.get(
    "",
    response_model=SettingsPage,
    summary="List settings with their norm counts",
    description="In name order, a page at a time: pass `next_cursor` back as `cursor`.",
    responses={422: ERROR_RESPONSES[422]},
)
def list_settings(service: ServiceDep, page: Annotated[PageParams, Depends(page_params)]) -> Response:
    return json_response(service.list_settings(limit=page.limit, cursor=page.cursor))


@router.get(
    "/{name:path}",
    response_model=SettingDetail,
    summary="A setting by name or alias",
    description=(
        "The setting's aliases, broader chain, narrower settings, roles, behaviours, items, the constraint "
        "vocabulary and its norm counts (own and inherited from broader settings)."
    ),
    responses={404: ERROR_RESPONSES[404]},
)
def get_setting(
    name: Annotated[str, Path(description="setting name or alias, e.g. restaurant", max_length=500)],
    service: ServiceDep,
) -> Response:
    return json_response(service.get_setting(name))
