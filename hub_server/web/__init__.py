"""The web catalogue: server-rendered pages at the root of the same app as the API.

:func:`install_catalogue` mounts the pages and makes errors on them HTML pages, while the
JSON API (``/api/...``) keeps its JSON errors.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from hub_server.errors import HubError
from hub_server.web import pages
from hub_server.web.rendering import render

__all__ = ["install_catalogue"]

Handler = Callable[[Request, Any], Awaitable[Response]]
AnyHandler = Callable[[Request, Any], Response | Awaitable[Response]]

_TITLES = {
    400: "That search cannot be run",
    404: "Not found",
    405: "Not allowed",
    500: "Something went wrong",
}


def install_catalogue(app: FastAPI) -> None:
    """Serve the catalogue pages and static assets from ``app``.

    Call after the API's error handlers are installed: this wraps them so that an error on a
    catalogue URL answers an HTML page and an error under ``/api`` keeps the JSON body.

    Args:
        app: the hub's app, as built by :func:`hub_server.app.create_app`.
    """
    app.include_router(pages.router)
    for exc_class in (HubError, StarletteHTTPException, Exception):
        json_handler = app.exception_handlers.get(exc_class)
        if json_handler is not None:
            app.add_exception_handler(exc_class, _html_for_pages(json_handler))


def wants_html(request: Request) -> bool:
    """Whether an error should be a page: not under ``/api``, and not asked for as JSON."""
    path = request.url.path
    if path == "/api" or path.startswith("/api/"):
        return False
    accept = request.headers.get("accept", "")
    return "text/html" in accept or "application/json" not in accept


async def _call(handler: AnyHandler, request: Request, exc: Exception) -> Response:
    result = handler(request, exc)
    return await result if inspect.isawaitable(result) else result


def _html_for_pages(json_handler: AnyHandler) -> Handler:
    async def handler(request: Request, exc: Exception) -> Response:
        if not wants_html(request):
            return await _call(json_handler, request, exc)
        if isinstance(exc, HubError):
            status, message, code = exc.status_code, exc.message, exc.code
        elif isinstance(exc, StarletteHTTPException):
            status, code = exc.status_code, "http_error"
            message = (
                f"There is no page at {request.url.path}." if status == 404 else str(exc.detail)
            )
        else:
            await _call(json_handler, request, exc)  # logs the crash
            status, code = 500, "internal_error"
            message = "The hub failed to answer this page; its logs say why."
        return render(
            "error.html",
            status_code=status,
            request=request,
            status=status,
            title=_TITLES.get(status, "Error"),
            message=message,
            code=code,
            query=_suggested_query(request.url.path),
        )

    return handler


def _suggested_query(path: str) -> str:
    """For a missing component page, the name to search for instead."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 3 and parts[0] == "components":
        return parts[2]
    if len(parts) == 2 and parts[0] == "namespaces":
        return parts[1]
    return ""
