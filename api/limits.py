"""Request size limits, enforced before a body is read into memory.

A pure ASGI middleware rather than a FastAPI dependency: by the time a handler or a dependency runs, the whole
body has been buffered and parsed. The declared ``Content-Length`` is refused up front; a chunked body is
counted as it streams and refused the moment it passes the limit. Both answer 413 in the one error shape.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_response


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, receive, send, declared)
            return
        seen = 0
        refused = False

        async def counted_receive() -> Message:
            # Past the limit the 413 goes out at once and the app is told the client left, so it stops reading
            # (an exception here would be caught by the body parser and turned into its own 400).
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    refused = True
                    await self._refuse(scope, receive, send, None)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not refused:  # after a 413, whatever the app still says has no response to go into
                await send(message)

        await self.app(scope, counted_receive, guarded_send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, declared: int | None) -> None:
        size = f"{declared:,} bytes" if declared is not None else f"more than {self.max_bytes:,} bytes"
        response = error_response(
            413,
            "payload_too_large",
            f"request body of {size} is over the limit of {self.max_bytes:,} bytes (NORMGRAPH_MAX_BODY_BYTES)",
            {"limit": self.max_bytes},
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
