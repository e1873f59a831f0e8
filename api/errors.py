"""One JSON error shape for every failure: ``{"error": {"code", "message", "details"}}``.

Library errors carry their own code and HTTP status (``NormgraphError``); request validation, unknown routes,
wrong methods and malformed bodies are mapped onto the same shape here; anything unexpected becomes a 500
whose body says nothing about the internals (the traceback goes to the server log only).
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from normgraph.errors import NormgraphError

log = logging.getLogger("api.errors")

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
}


def error_response(
    status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> Response:
    body = orjson.dumps({"error": {"code": code, "message": message, "details": json_safe(details)}})
    return Response(content=body, status_code=status, media_type="application/json", headers=headers)


def json_safe(value: Any) -> Any:
    """Pydantic error contexts hold exception objects and arbitrary inputs; keep what JSON can say."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [json_safe(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _loc(loc: Any) -> str:
    return ".".join(str(p) for p in loc) if isinstance(loc, (list, tuple)) else str(loc)


async def normgraph_error_handler(request: Request, exc: NormgraphError) -> Response:
    return error_response(exc.http_status, exc.code, exc.message, exc.details)


async def validation_error_handler(request: Request, exc: RequestValidationError) -> Response:
    errors = [
        {k: v for k, v in err.items() if k in ("type", "loc", "msg", "input", "ctx")} for err in exc.errors()
    ]
    first = errors[0] if errors else {}
    if first.get("type") == "json_invalid":
        reason = (first.get("ctx") or {}).get("error", "cannot be parsed")
        return error_response(422, "invalid_json", f"request body is not valid JSON: {reason}", errors)
    if first.get("type") == "missing" and tuple(first.get("loc", ())) == ("body",):
        return error_response(422, "validation_error", "request body is required (a JSON object)", errors)
    where = _loc(first.get("loc", ""))
    message = f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg", "invalid request"))
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more)"
    return error_response(422, "validation_error", message, errors)


async def http_error_handler(request: Request, exc: StarletteHTTPException) -> Response:
    status = exc.status_code
    code = _HTTP_CODES.get(status, "http_error")
    headers = getattr(exc, "headers", None)
    if status == 404 and exc.detail == "Not Found":
        message = f"no such resource: {request.method} {request.url.path}"
    elif status == 405:
        allowed = (headers or {}).get("Allow") or (headers or {}).get("allow")
        message = f"method {request.method} not allowed on {request.url.path}" + (f"; allowed: {allowed}" if allowed else "")
    else:
        message = str(exc.detail)
    if status < 200 or status in (204, 304):
        return Response(status_code=status, headers=headers)
    return error_response(status, code, message, None, headers)


async def unexpected_error_handler(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "internal_error", "internal server error; the server log has the details")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(NormgraphError, normgraph_error_handler)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, validation_error_handler)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, http_error_handler)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, unexpected_error_handler)
