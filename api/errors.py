"""One JSON error shape for every failure: ``{"error": {"code", "message", "details"}}``.

Library errors carry their own code and HTTP status (``NormgraphError``); request validation, unknown routes,
wrong methods and malformed bodies are mapped onto the same shape here; anything unexpected becomes a 500
whose body says nothing about the internals (the traceback goes to the server log only).
"""

from __future__ import annotations

import logging
from pathlib import Path
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
    body = orjson.dumps({"error": {"code": code, "message": _short(message, MESSAGE_CHARS), "details": json_safe(details)}})
    return Response(content=body, status_code=status, media_type="application/json", headers=headers)


# An error echoes at most this much of what the caller sent: enough to see which value was wrong, never the
# whole body back (a 10 MB body once got a 10 MB 422).
ECHO_CHARS = 200
ECHO_ITEMS = 20
# Messages are the library's own sentences (a fix, a setting to change), which may quote a value: longer bound.
MESSAGE_CHARS = 2000
_INT64 = (-(2**63), 2**64 - 1)  # orjson serialises 64-bit integers only


def json_safe(value: Any, _depth: int = 0) -> Any:
    """Pydantic error contexts hold exception objects and arbitrary inputs; keep what JSON can say, shortened.

    Everything that reaches ``orjson.dumps`` passes through here, so no input can make the error handler itself
    fail: integers beyond 64 bits become their (shortened) decimal text, strings lose lone surrogates, and
    long strings, deep structures and long lists are cut with a marker."""
    if value is None or isinstance(value, (bool, float)):
        return value
    if isinstance(value, int):
        return value if _INT64[0] <= value <= _INT64[1] else _short(_int_text(value))
    if isinstance(value, str):
        return _short(value)
    if isinstance(value, bytes):
        return _short(value[: ECHO_CHARS * 4].decode("utf-8", "replace"))
    if _depth >= 4:
        return "…"
    if isinstance(value, dict):
        items = list(value.items())
        out = {_short(str(k)): json_safe(v, _depth + 1) for k, v in items[:ECHO_ITEMS]}
        if len(items) > ECHO_ITEMS:
            out["…"] = f"{len(items) - ECHO_ITEMS} more"
        return out
    if isinstance(value, (list, tuple, set, frozenset)):
        seq = list(value)
        out_list = [json_safe(v, _depth + 1) for v in seq[:ECHO_ITEMS]]
        if len(seq) > ECHO_ITEMS:
            out_list.append(f"… {len(seq) - ECHO_ITEMS} more")
        return out_list
    return _short(str(value))


def _int_text(value: int) -> str:
    # str() of a huge int is quadratic and refused past 4,300 digits; the magnitude is all a caller needs.
    bits = value.bit_length()
    return str(value) if bits <= 256 else f"an integer of {bits} bits"


def _short(text: str, limit: int = ECHO_CHARS) -> str:
    if len(text) > limit:
        text = text[:limit] + f"… ({len(text)} characters)"
    # A lone surrogate ("\ud800") is valid JSON but not UTF-8: replace it rather than fail to answer.
    return text.encode("utf-8", "replace").decode("utf-8") if _has_surrogate(text) else text


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _loc(loc: Any) -> str:
    return ".".join(str(p) for p in loc) if isinstance(loc, (list, tuple)) else str(loc)


async def normgraph_error_handler(request: Request, exc: NormgraphError) -> Response:
    # Library errors name files for the CLI's user; an HTTP caller gets the setting instead of the server's path.
    home = getattr(getattr(request.app.state, "settings", None), "home", None)
    message, details = exc.message, exc.details
    if home is not None:
        message, details = _redact(message, home), _redact(details, home)
    return error_response(exc.http_status, exc.code, message, details)


def _redact(value: Any, home: Any) -> Any:
    if isinstance(value, str):
        for form in {str(home), str(Path(home).resolve())}:
            value = value.replace(form, "$NORMGRAPH_HOME")
        return value
    if isinstance(value, dict):
        return {k: _redact(v, home) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redact(v, home) for v in value]
    return value


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
    if status == 400 and exc.detail == "There was an error parsing the body":
        # FastAPI's own wording for a body json.loads refused (bytes that are not UTF-8, a number of more than
        # 4,300 digits): the same 422 as any other unparsable JSON, as the schema documents.
        return error_response(422, "invalid_json", "request body is not valid JSON (not UTF-8, or a number too long to read)")
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
