"""Fixtures for the CLI and SDK tests.

The real app runs in-process on SQLite only (the server suite covers PostgreSQL); every test
gets its own HOME, XDG folders and working directory, and no HUB_* variable leaks in from the
machine. Commands reach the in-process app through the CLI's ``http_client_factory``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

from hub_cli.client import HubClient
from hub_cli.commands import _context
from hub_cli.main import app as cli_app
from tests.conftest import ADMIN_TOKEN, LiveHub
from tests.factories import pack_package


@pytest.fixture
def database_url(sqlite_template: Path, tmp_path: Path) -> str:
    """A fresh copy of the migrated SQLite template (no PostgreSQL run for the client)."""
    target = tmp_path / "db" / "hub.db"
    target.parent.mkdir()
    shutil.copyfile(sqlite_template, target)
    return f"sqlite:///{target}"


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty HOME with XDG folders inside it, no HUB_* variables, and a fresh cwd."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    for name in list(os.environ):
        if name.startswith("HUB_") or name.startswith("DOCKER_"):
            monkeypatch.delenv(name)
    # One quick retry keeps "hub is down" tests fast; the retry tests set their own.
    monkeypatch.setenv("HUB_MAX_RETRIES", "1")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return home


@pytest.fixture
def cache_root(home: Path) -> Path:
    """Where the cache lives for this test (``$XDG_CACHE_HOME/hub``)."""
    return home / ".cache" / "hub"


def token_of(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


@pytest.fixture
def alice_token(alice: dict[str, str]) -> str:
    return token_of(alice)


@pytest.fixture
def hub(client: TestClient, alice_token: str) -> Iterator[HubClient]:
    """The SDK client, as alice, talking to the real app in-process."""
    with HubClient(http_client=client, token=alice_token) as sdk:
        yield sdk


@pytest.fixture
def anonymous(client: TestClient) -> HubClient:
    """The SDK client without a token."""
    return HubClient(http_client=client)


Publish = Callable[..., httpx.Response]


@pytest.fixture
def published(publish: Publish, alice: dict[str, str]) -> Publish:
    """alice/train at 1.0.0, 1.1.0 and 2.0.0-rc.1 (cpu and gpu variants); returns `publish`."""
    for version in ("1.0.0", "1.1.0", "2.0.0-rc.1"):
        response = publish("alice", alice, version=version)
        assert response.status_code == 201, response.text
    return publish


@dataclass
class Cli:
    """Runs ``hub ...`` in-process (CliRunner) against the real app."""

    runner: CliRunner

    def __call__(self, *args: str, input: str | None = None) -> Result:
        return self.runner.invoke(cli_app, list(args), input=input, prog_name="hub")


@pytest.fixture
def cli(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """The CLI wired to the in-process app (no token: set HUB_TOKEN to act as someone)."""
    monkeypatch.setattr(_context, "http_client_factory", lambda: client)
    return Cli(CliRunner(env={"COLUMNS": "200"}))


@pytest.fixture
def own_http_cli() -> Cli:
    """The CLI with its own HTTP client (for a live hub, or none at all)."""
    return Cli(CliRunner(env={"COLUMNS": "200"}))


def assert_one_error_line(result: Result, exit_code: int, *needles: str) -> str:
    """The command failed with ``exit_code`` and exactly one ``error:`` line, no traceback."""
    assert result.exit_code == exit_code, (result.exit_code, result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "Traceback" not in result.stdout
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


def live_publish(hub: LiveHub, tmp_path: Path, namespace: str, **package: Any) -> dict[str, Any]:
    """Publish a factory package to a live hub as the administrator."""
    root = tmp_path / f"live-pkg-{package.get('name', 'train')}-{package.get('version', '1')}"
    data = pack_package(root, **package)
    response = httpx.post(
        f"{hub.url}/api/v1/components/{namespace}/{package.get('name', 'train')}/versions",
        files={"archive": ("package.tar.gz", data, "application/gzip")},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body
