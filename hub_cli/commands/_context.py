"""What every command shares: the SDK client it talks through, and common options."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    import httpx

    from hub_cli.client import HubClient


def _no_http_client() -> httpx.Client | None:
    return None


http_client_factory: Callable[[], httpx.Client | None] = _no_http_client
"""Gives the ``httpx.Client`` that commands send requests with; None lets the SDK make its own.

Tests replace it (``monkeypatch.setattr``) to run every command against the real app
in-process through FastAPI's ``TestClient``.
"""


def open_client(url: str | None = None, token: str | None = None) -> HubClient:
    """The SDK client a command uses (configured from HUB_URL/HUB_TOKEN/config file).

    Args:
        url: An explicit hub URL (``hub login --url``).
        token: An explicit token (``hub login --token``).

    Returns:
        The client; close it (or use it as a context manager) when done.
    """
    from hub_cli.client import HubClient

    return HubClient(url=url, token=token, http_client=http_client_factory())


JsonOption = Annotated[
    bool, typer.Option("--json", help="Print JSON (for scripts) instead of a table.")
]
PackageDir = Annotated[
    Path,
    typer.Argument(
        help="The package folder (the one holding hub.yaml).",
        show_default="the current folder",
    ),
]
RefArgument = Annotated[
    str,
    typer.Argument(
        metavar="REF",
        help="A component reference: NAMESPACE/NAME, optionally @VERSION, @RANGE (npm, e.g. "
        "^1.2) or @sha256:DIGEST.",
    ),
]
