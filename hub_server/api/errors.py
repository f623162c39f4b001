"""The one place where errors become HTTP responses, always as the JSON error body."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from hub_server.errors import HubError

log = logging.getLogger("hub.errors")

_HTTP_CODES = {
    # A path the API does not have, as opposed to a missing component or version: clients
    # use it to tell "this URL is not a hub" from "this hub has no such thing".
    404: "no_route",
    405: "method_not_allowed",
    413: "request_too_large",
    415: "unsupported_media_type",
}


def error_response(status: int, code: str, message: str, **detail: Any) -> JSONResponse:
    return JSONResponse(
        status_code=status,
        content={"error": {"code": code, "message": message, "detail": detail}},
    )


def install_error_handlers(app: FastAPI) -> None:
    """Map our errors, FastAPI's validation errors, routing errors and crashes to JSON."""

    @app.exception_handler(HubError)
    async def _hub_error(_request: Request, exc: HubError) -> JSONResponse:
        return JSONResponse(status_code=exc.status_code, content=exc.to_body())

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "field": ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "(body)",
                "message": err.get("msg", ""),
            }
            for err in exc.errors()
        ]
        first = errors[0] if errors else {"field": "", "message": "invalid request"}
        return error_response(
            422,
            "validation_error",
            f"invalid request: {first['field']}: {first['message']}",
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        return error_response(exc.status_code, code, message)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "internal_error", "the hub failed to answer; see its logs")
