"""Blocking store reads never run on the event loop: a handler is ``async`` only when it answers from a cache on
the loop and hands every store read to the thread pool (DEVELOPERS: async handlers must not block)."""

from __future__ import annotations

import inspect

from fastapi.routing import APIRoute

from api.app import create_app
from normgraph.settings import Settings

# Each of these answers a cache hit on the loop and a miss in the thread pool (api.schemas.cache_first).
CACHE_FIRST = {"query_norms", "retrieve", "prompt"}


def _api_routes(routes: list) -> list[APIRoute]:
    found: list[APIRoute] = []
    for r in routes:
        if isinstance(r, APIRoute):
            found.append(r)
        inner = getattr(r, "original_router", None)  # an included router (FastAPI keeps it whole)
        if inner is not None:
            found.extend(_api_routes(inner.routes))
    return found


def test_only_cache_first_handlers_are_async(tmp_path) -> None:
    app = create_app(Settings(home=tmp_path))
    routes = _api_routes(app.routes)
    assert {"query_norms", "get_norm", "healthz", "list_settings", "retrieve"} <= {r.endpoint.__name__ for r in routes}
    asynchronous = {r.endpoint.__name__ for r in routes if inspect.iscoroutinefunction(r.endpoint)}
    assert asynchronous <= CACHE_FIRST, f"async handlers that would block the loop: {asynchronous - CACHE_FIRST}"
    for name in asynchronous:
        source = inspect.getsource(next(r.endpoint for r in routes if r.endpoint.__name__ == name))
        assert "await cache_first(" in source, name
