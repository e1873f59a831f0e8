"""Request and response bodies that exist only at the HTTP boundary. Everything else (query results,
statements, settings pages) is a normgraph model, reused as is."""

from __future__ import annotations

from typing import Annotated, Any, Callable

from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from normgraph.models import MAX_LABEL_CHARS, Constraint

# Bounds that keep one request cheap to reject; the service applies the configured page limit on top.
MAX_FACTS = 64
MAX_TEXT = MAX_LABEL_CHARS

FactList = Annotated[list[str | Constraint], Field(max_length=MAX_FACTS)]
FactString = Annotated[str, Field(max_length=MAX_FACTS * 64)]


class QueryRequest(BaseModel):
    """A frame query: what holds in a setting (for one behaviour, or all of them a page at a time)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "setting": "restaurant",
                    "behavior": "shout",
                    "facts": ["[PERSON]'s role is 'customer'", "[PERSON]'s age bracket is 'toddler'"],
                },
                {
                    "setting": "restaurant",
                    "facts": [{"subject": "person", "attribute": "role", "relation": "is", "value": "customer"}],
                    "limit": 10,
                    "include_defeated": False,
                },
            ]
        },
    )

    setting: str = Field(min_length=1, max_length=MAX_TEXT, description="setting name or alias, e.g. 'restaurant'")
    behavior: str | None = Field(
        None, min_length=1, max_length=MAX_TEXT, description="only this behaviour (or an alias); omit for all"
    )
    facts: FactList | FactString = Field(
        default_factory=list,
        description="what the caller asserts: a list of NormBank constraint strings "
        "(\"[PERSON]'s role is 'customer'\") and/or structured constraints; or one string of constraints joined "
        "by ' [AND] '",
    )
    limit: int | None = Field(
        None, ge=1, strict=True, description="behaviours per page (default and maximum are configured)"
    )
    cursor: str | None = Field(None, max_length=2000, description="the next_cursor of the previous page")
    include_defeated: bool = Field(True, strict=True, description="list the defeated norms and what defeated them")


class ErrorBody(BaseModel):
    code: str = Field(description="machine-readable, e.g. not_found, validation_error, constraint_syntax")
    message: str = Field(description="what went wrong, for people")
    details: Any = Field(None, description="structured context: the offending field, constraint, id …")


class ErrorResponse(BaseModel):
    """The one shape of every error this API returns."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "error": {
                        "code": "not_found",
                        "message": "unknown setting 'moon base': see GET /v1/settings for the settings in this bank",
                        "details": {"setting": "moon base"},
                    }
                }
            ]
        }
    )

    error: ErrorBody


class Health(BaseModel):
    ok: bool
    store: str = Field(description="store backend name")
    read_only: bool
    statements: int = Field(description="statements in the store")
    version: str


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "unknown setting, id or route"},
    422: {"model": ErrorResponse, "description": "invalid request: validation, constraint syntax, bad cursor or limit"},
    500: {"model": ErrorResponse, "description": "unexpected server error (no internals disclosed)"},
    503: {"model": ErrorResponse, "description": "the store is unavailable"},
}


async def cache_first(answer_json: Callable[..., bytes | None], *args: Any, **kwargs: Any) -> Response:
    """``answer_json(..., cached_only=True)`` straight from the event loop (a cache hit costs no thread-pool hop);
    on a miss the same call without ``cached_only`` runs in the thread pool, so a store read or an encoding never
    blocks the loop. ``answer_json`` returns the answer's JSON bytes, or None for a miss when ``cached_only``."""
    answer = answer_json(*args, **kwargs, cached_only=True)
    if answer is None:
        answer = await run_in_threadpool(lambda: answer_json(*args, **kwargs))
    return Response(content=answer, media_type="application/json")


def json_response(model: BaseModel, status_code: int = 200) -> Response:
    """Serialise once, in Rust: the route's ``response_model`` documents the body but is not re-validated."""
    return Response(
        content=model.__pydantic_serializer__.to_json(model), status_code=status_code, media_type="application/json"
    )
