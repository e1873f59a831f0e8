"""Cursor pagination at the HTTP boundary: ``?limit=&cursor=`` in, ``{"items": [...], "next_cursor"}`` out.

Cursors are opaque strings made by normgraph (they encode the last key of the page, so a page walk is stable
while the bank does not change). Limits above the configured maximum are the caller's error (422), never
silently clamped, so a client cannot mistake a short page for the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Query

from normgraph.settings import Settings

# The largest maximum any configuration may set; the configured one is enforced by the service.
_HARD_MAX: int = next(m.le for m in Settings.model_fields["max_page_limit"].metadata if getattr(m, "le", None))


@dataclass(frozen=True)
class PageParams:
    limit: int | None
    cursor: str | None


async def page_params(
    limit: Annotated[
        int | None,
        Query(
            ge=1,
            le=_HARD_MAX,
            description="items per page (default NORMGRAPH_PAGE_LIMIT, at most NORMGRAPH_MAX_PAGE_LIMIT)",
        ),
    ] = None,
    cursor: Annotated[str | None, Query(max_length=2000, description="next_cursor of the previous page")] = None,
) -> PageParams:
    return PageParams(limit=limit, cursor=cursor)
