"""The OpenAPI schema states the limits this server enforces, taken from the same settings.

Page limits are settings (``NORMGRAPH_MAX_PAGE_LIMIT``), so the request models cannot carry them as static
bounds: the schema is generated as usual, then every page-size parameter gets the configured maximum, so a
client generated from the schema never sends a ``limit`` the server answers with 422.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from normgraph.settings import Settings

# Request models whose ``limit`` property is a page size.
PAGED_BODIES = ("QueryRequest",)


def install_openapi(app: FastAPI, settings: Settings) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            _state_page_limits(schema, settings)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _state_page_limits(schema: dict[str, Any], settings: Settings) -> None:
    bound = {"minimum": 1, "maximum": settings.max_page_limit}
    for model in PAGED_BODIES:
        prop = schema.get("components", {}).get("schemas", {}).get(model, {}).get("properties", {}).get("limit")
        if prop is not None:
            _bound(prop, bound, settings)
    for operations in schema.get("paths", {}).values():
        for op in operations.values():
            for param in op.get("parameters", []) if isinstance(op, dict) else []:
                if param.get("name") == "limit" and param.get("in") == "query":
                    _bound(param.setdefault("schema", {}), bound, settings)


def _bound(prop: dict[str, Any], bound: dict[str, int], settings: Settings) -> None:
    # ``int | None`` is written as anyOf [integer, null]: the bound goes on the integer branch.
    targets = [b for b in prop.get("anyOf", []) if b.get("type") == "integer"] or [prop]
    for t in targets:
        t.update(bound)
    prop["description"] = (
        f"{prop.get('description', 'items per page').rstrip('.')} (here: default {settings.page_limit}, "
        f"at most {settings.max_page_limit})"
    )
