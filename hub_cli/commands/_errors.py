"""The CLI's one error boundary: each exception becomes one line on stderr and an exit code.

:data:`FRIENDLY` is the only table from exception to message; :class:`HubGroup` applies it to
whatever a command raises. Usage errors (bad options, a malformed reference) exit with 2,
everything else with 1, an interrupt with 130. A traceback is shown only with ``--debug`` (or
``HUB_DEBUG=1``).
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Callable
from typing import Any

import typer
from typer.core import TyperGroup

from hub_cli import constants
from hub_cli.commands._output import one_line
from hub_cli.errors import (
    AuthenticationError,
    ComponentNotFoundError,
    DigestMismatchError,
    HubConnectionError,
    HubError,
    InvalidReferenceError,
    NoMatchingVersionError,
    OfflineError,
    PackageRejectedError,
    PermissionDeniedError,
    ServerError,
    VersionExistsError,
    VersionNotFoundError,
)

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

DEBUG_KEY = "hub_debug"


def _auth(exc: AuthenticationError) -> str:
    if exc.token_sent:
        return (
            f"the hub at {exc.hub_url} does not accept your token (revoked, mistyped, or "
            "another hub's): run `hub login` with a valid one, or fix HUB_TOKEN"
        )
    return "this needs a token: run `hub login` (or set HUB_TOKEN)"


def _server(exc: ServerError) -> str:
    suffix = f" (request id {exc.request_id})" if exc.request_id else ""
    return f"{exc.message}{suffix}"


def _os_error(exc: OSError) -> str:
    where = f": {exc.filename}" if exc.filename else ""
    return f"{exc.strerror or exc}{where}"


# Most specific first: the first class the exception is an instance of wins.
FRIENDLY: tuple[tuple[type[BaseException], Callable[[Any], str], int], ...] = (
    (KeyboardInterrupt, lambda exc: "interrupted", EXIT_INTERRUPTED),
    (InvalidReferenceError, lambda exc: exc.message, EXIT_USAGE),
    (OfflineError, lambda exc: exc.message, EXIT_ERROR),
    (
        HubConnectionError,
        lambda exc: f"{exc.message}: is it running? Check HUB_URL, or run `hub login --url URL`",
        EXIT_ERROR,
    ),
    (AuthenticationError, _auth, EXIT_ERROR),
    (PermissionDeniedError, lambda exc: f"not allowed: {exc.message}", EXIT_ERROR),
    (ComponentNotFoundError, lambda exc: f"{exc.message} (try `hub search`)", EXIT_ERROR),
    (
        VersionNotFoundError,
        lambda exc: f"{exc.message} (`hub versions` lists them)",
        EXIT_ERROR,
    ),
    (
        NoMatchingVersionError,
        lambda exc: f"{exc.message} (`hub versions` lists them)",
        EXIT_ERROR,
    ),
    (
        VersionExistsError,
        lambda exc: f"{exc.message}: published versions never change; raise `version` in hub.yaml",
        EXIT_ERROR,
    ),
    (PackageRejectedError, lambda exc: f"the hub refused the package: {exc.message}", EXIT_ERROR),
    (DigestMismatchError, lambda exc: exc.message, EXIT_ERROR),
    (ServerError, _server, EXIT_ERROR),
    (HubError, lambda exc: exc.message, EXIT_ERROR),
    (OSError, _os_error, EXIT_ERROR),
    (Exception, lambda exc: f"unexpected {type(exc).__name__}: {exc}", EXIT_ERROR),
)


def describe(exc: BaseException) -> tuple[str, int]:
    """The one-line message and exit code for an exception, from :data:`FRIENDLY`.

    Args:
        exc: What a command raised.

    Returns:
        ``(message, exit code)``.
    """
    for kind, message, code in FRIENDLY:
        if isinstance(exc, kind):
            return one_line(message(exc)), code
    return one_line(repr(exc)), EXIT_ERROR  # pragma: no cover - Exception matches all


def _debug(ctx: Any) -> bool:
    return bool(ctx.meta.get(DEBUG_KEY)) or constants.debug_enabled()


class HubGroup(TyperGroup):
    """The root command group; turns exceptions into one line on stderr and an exit code."""

    def invoke(self, ctx: Any) -> Any:
        """Run the command; report a failure as one line (and a traceback with ``--debug``)."""
        try:
            return super().invoke(ctx)
        except typer.TyperException as exc:
            if getattr(exc, "exit_code", EXIT_ERROR) != EXIT_USAGE:
                raise
            # A usage error in a command's arguments: one line too, with where to get help.
            command = getattr(getattr(exc, "ctx", None), "command_path", None) or "hub"
            sys.stderr.write(f"error: {one_line(exc.format_message())} (see `{command} --help`)\n")
            raise typer.Exit(EXIT_USAGE) from None
        except (typer.Exit, typer.Abort):
            raise
        except (Exception, KeyboardInterrupt) as exc:
            message, code = describe(exc)
            if _debug(ctx):
                traceback.print_exception(exc, file=sys.stderr)
            elif _is_unexpected(exc):
                message += " (run with --debug for the traceback)"
            sys.stderr.write(f"error: {message}\n")
            sys.stderr.flush()
            raise typer.Exit(code) from None


def _is_unexpected(exc: BaseException) -> bool:
    """Whether the exception is not one of ours (a bug, worth a traceback)."""
    return not isinstance(exc, HubError | OSError | KeyboardInterrupt)


class _StderrHandler(logging.Handler):
    """Writes to whatever ``sys.stderr`` is at the time (tests swap it per command)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            prefix = "" if record.levelno == logging.INFO else f"{record.levelname.lower()}: "
            sys.stderr.write(prefix + one_line(self.format(record)) + "\n")
        except Exception:  # pragma: no cover - logging must never break a command
            self.handleError(record)


def configure_logging(debug: bool) -> None:
    """Send the SDK's log lines (``hub_cli`` logger) to stderr: warnings, or all with --debug.

    Args:
        debug: Whether ``--debug`` was given.
    """
    logger = logging.getLogger("hub_cli")
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        logger.addHandler(_StderrHandler())
    logger.setLevel(logging.DEBUG if debug else logging.WARNING)
