"""Shared fixtures: the app on SQLite and PostgreSQL, users, publishing, a live server.

Services a test needs (PostgreSQL, node/npm) are looked for; when one is missing the test is
skipped with the reason on a laptop and FAILS in CI (``CI=true``), so CI never goes green by
skipping.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from hub_server.app import create_app
from hub_server.serve import prepare
from hub_server.settings import Settings
from tests.factories import pack_package

CI = os.environ.get("CI", "").lower() == "true"
ADMIN_TOKEN = "hub_test-admin-token-0123456789abcdef"
ROOT = Path(__file__).resolve().parent.parent


def missing_service(reason: str) -> None:
    """Skip on a laptop; fail in CI, where every service must be there."""
    if CI:
        pytest.fail(f"{reason} (CI=true: a missing service fails the run)")
    pytest.skip(reason)


# --------------------------------------------------------------------------- databases


def _prepare_template(settings: Settings) -> None:
    prepare(settings)  # migrations + administrator: exactly what `hub serve` does


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("sqlite-template")
    _prepare_template(Settings(data_dir=data, admin_token=ADMIN_TOKEN))
    return data / "hub.db"


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    url = os.environ.get("HUB_TEST_POSTGRES_URL")
    if not url:
        missing_service(
            "PostgreSQL tests need HUB_TEST_POSTGRES_URL "
            "(e.g. postgresql://hub:hub@127.0.0.1:5432/postgres; .ci/run starts one)"
        )
    import psycopg

    try:
        psycopg.connect(url, connect_timeout=3, autocommit=True).close()
    except psycopg.Error as exc:
        missing_service(f"PostgreSQL at HUB_TEST_POSTGRES_URL is not reachable: {exc}")
    return str(url)


def _pg_admin(server_url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


def _pg_url(server_url: str, database: str) -> str:
    base, _, _ = server_url.rpartition("/")
    return f"{base}/{database}"


@pytest.fixture(scope="session")
def postgres_template(
    postgres_server_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    name = f"hub_tpl_{uuid.uuid4().hex[:8]}"
    _pg_admin(postgres_server_url, f"CREATE DATABASE {name}")
    try:
        _prepare_template(
            Settings(
                data_dir=tmp_path_factory.mktemp("pg-template"),
                database_url=_pg_url(postgres_server_url, name),
                admin_token=ADMIN_TOKEN,
            )
        )
        yield name
    finally:
        _pg_admin(postgres_server_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated database with an administrator, fresh for each test, on each backend."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "db" / "hub.db"
        target.parent.mkdir()
        shutil.copyfile(template, target)
        yield f"sqlite:///{target}"
        return
    server: str = request.getfixturevalue("postgres_server_url")
    template_name: str = request.getfixturevalue("postgres_template")
    name = f"hub_t_{uuid.uuid4().hex[:10]}"
    _pg_admin(server, f"CREATE DATABASE {name} TEMPLATE {template_name}")
    try:
        yield _pg_url(server, name)
    finally:
        _pg_admin(server, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


# --------------------------------------------------------------------------- app and users


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        admin_token=ADMIN_TOKEN,
        log_format="text",
        # Pinning images asks registries over the network; tests/server/test_oci.py covers it
        # against a real registry, everything else publishes without it.
        resolve_images=False,
        # Counts written on every download, so tests read them at once; the buffered path is
        # tested in tests/server/test_pulls.py.
        pull_flush_seconds=0,
        # Packages are validated in the request's thread: a helper process per app would cost
        # every test its start; tests/server/test_package_checker.py covers the helper.
        package_checker="inline",
    )


@pytest.fixture
def app(settings: Settings) -> Iterator[Any]:
    application = create_app(settings)
    yield application
    application.state.hub.engine.dispose()


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def admin() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def make_user(client: TestClient, admin: dict[str, str]) -> Callable[..., dict[str, str]]:
    """Create a user through the API; returns its auth headers."""

    def _make(name: str, *, is_admin: bool = False) -> dict[str, str]:
        response = client.post(
            "/api/v1/users", json={"name": name, "is_admin": is_admin}, headers=admin
        )
        assert response.status_code == 201, response.text
        return {"Authorization": f"Bearer {response.json()['token']}"}

    return _make


@pytest.fixture
def alice(make_user: Callable[..., dict[str, str]]) -> dict[str, str]:
    return make_user("alice")


@pytest.fixture
def bob(make_user: Callable[..., dict[str, str]]) -> dict[str, str]:
    return make_user("bob")


@pytest.fixture
def upload(client: TestClient) -> Callable[..., httpx.Response]:
    """POST raw archive bytes to the publish route."""

    def _upload(
        namespace: str, name: str, data: bytes, headers: dict[str, str] | None
    ) -> httpx.Response:
        return client.post(
            f"/api/v1/components/{namespace}/{name}/versions",
            files={"archive": (f"{name}.tar.gz", data, "application/gzip")},
            headers=headers or {},
        )

    return _upload


@pytest.fixture
def publish(tmp_path: Path, upload: Callable[..., httpx.Response]) -> Callable[..., httpx.Response]:
    """Build a package with the factory and publish it; returns the response."""
    counter = iter(range(10**6))

    def _publish(
        namespace: str, headers: dict[str, str] | None, /, **package: Any
    ) -> httpx.Response:
        root = tmp_path / f"pkg{next(counter)}"
        data = pack_package(root, **package)
        return upload(namespace, package.get("name", "train"), data, headers)

    return _publish


def blob_count(settings: Settings) -> int:
    blobs = settings.data_dir / "blobs" / "sha256"
    return sum(1 for _ in blobs.glob("??/*")) if blobs.exists() else 0


# --------------------------------------------------------------------------- live server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LiveHub:
    def __init__(self, url: str, process: subprocess.Popen[bytes], data_dir: Path, log: Path):
        self.url = url
        self.process = process
        self.data_dir = data_dir
        self.log = log

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_live_hub(
    data_dir: Path, env: dict[str, str] | None = None, *, workers: int = 1
) -> LiveHub:
    port = free_port()
    log = data_dir.parent / f"hub-{port}.log"
    process_env = {
        **os.environ,
        "HUB_LOG_FORMAT": "json",
        "HUB_RESOLVE_IMAGES": "false",
        "HUB_SEED_BUILTINS": "false",
        "HUB_PULL_FLUSH_SECONDS": "0",
        **(env or {}),
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hub_cli.main",
                "serve",
                "--port",
                str(port),
                "--data-dir",
                str(data_dir),
                "--workers",
                str(workers),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=process_env,
            cwd=ROOT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"hub serve exited early:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return LiveHub(url, process, data_dir, log)
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"hub serve did not answer in 30 s:\n{log.read_text()}")


@pytest.fixture
def live_hub(tmp_path: Path) -> Iterator[LiveHub]:
    hub = start_live_hub(tmp_path / "live-data", env={"HUB_ADMIN_TOKEN": ADMIN_TOKEN})
    yield hub
    hub.stop()
