"""Refuse request bodies over the hub's limit while they arrive, with the JSON error body.

A declared ``Content-Length`` over the limit is answered at once, before reading anything; a
body without one (chunked) is counted as it streams in and refused when it passes the limit.
"""

from __future__ import annotations

import contextlib
import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub_server.errors import PayloadTooLarge


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the request body is larger than the hub accepts ({limit} bytes)",
        code="request_too_large",
        limit=limit,
    )


class _BodyTooLarge(Exception):
    """Raised inside the app's ``receive`` when the body passes the limit."""


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_body_size: int) -> None:
        self.app = app
        self.max_body_size = max_body_size

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_body_size
        has_body = False
        for key, value in scope.get("headers", []):
            if key == b"content-length":
                if value.isdigit() and int(value) > limit:
                    await _send_error(send, _too_large(limit))
                    return
                has_body = has_body or value != b"0"
            elif key == b"transfer-encoding":
                has_body = True
        if not has_body:
            # No body coming (most reads): nothing to count.
            await self.app(scope, receive, send)
            return
        received = 0
        tripped = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, tripped
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    tripped = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            # Body parsers turn any error into their own 400; once tripped, ours is the answer.
            if tripped:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        with contextlib.suppress(_BodyTooLarge):
            await self.app(scope, limited_receive, guarded_send)
        if tripped and not started:
            await _send_error(send, _too_large(limit))


async def _send_error(send: Send, error: PayloadTooLarge) -> None:
    body = json.dumps(error.to_body()).encode()
    await send(
        {
            "type": "http.response.start",
            "status": error.status_code,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
