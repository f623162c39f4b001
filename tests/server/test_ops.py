"""Operations routes, OpenAPI, logs, and the `hub serve` bootstrap."""

from __future__ import annotations

import gc
import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from hub_server.app import create_app, create_app_from_env
from hub_server.settings import Settings
from tests.conftest import ROOT, free_port, start_live_hub


def test_healthz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_checks_database_and_storage(client: TestClient) -> None:
    body = client.get("/readyz").json()

    assert body == {"status": "ready", "checks": {"database": "ok", "storage": "ok"}}


def test_readyz_is_503_when_the_database_is_gone(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url="postgresql://nobody@127.0.0.1:1/none")
    with TestClient(create_app(settings)) as client:
        response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "not_ready"
    assert response.json()["error"]["detail"]["storage"] == "ok"


def test_a_served_app_keeps_its_startup_objects_out_of_full_collections(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """uvicorn's factory freezes what the worker holds once its app is built: a full
    collection no longer walks it (67 to 85 ms a worker stalled, at 100k components)."""
    monkeypatch.setenv("HUB_DATA_DIR", str(tmp_path))
    gc.unfreeze()
    try:
        app = create_app_from_env()
        assert gc.get_freeze_count() > 0
        assert not any(found is app for found in gc.get_objects()), "the app is still walked"
        app.state.hub.engine.dispose()
    finally:
        gc.unfreeze()


def test_metrics_count_requests_by_route(client: TestClient) -> None:
    client.get("/api/v1/components/alice/nope")
    client.get("/api/v1/components")

    text = client.get("/metrics").text

    assert (
        'hub_http_requests_total{method="GET",route="/api/v1/components/{namespace}/{name}",'
        'status="404"} 1.0' in text
    )
    assert 'route="/api/v1/components",status="200"' in text
    assert "hub_http_request_duration_seconds_bucket" in text


def test_openapi_lists_every_contract_route(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    base = "/api/v1/components/{namespace}/{name}"

    assert {
        "/api/v1/components",
        base,
        base + "/versions",
        base + "/versions/{version}",
        base + "/resolve",
        base + "/versions/{version}/archive",
        base + "/versions/{version}/component.yaml",
        base + "/fork",
        base + "/versions/{version}/yank",
        "/healthz",
        "/readyz",
        "/metrics",
    } <= set(paths)
    assert set(paths[base + "/versions/{version}/yank"]) == {"post", "delete"}
    assert client.get("/docs").status_code == 200


def test_openapi_documents_each_search_parameter(client: TestClient) -> None:
    """The search's query is one model (validated in one call), still documented field by
    field: a client generated from the spec sees the same parameters."""
    get = client.get("/openapi.json").json()["paths"]["/api/v1/components"]["get"]
    parameters = {p["name"]: p for p in get["parameters"]}

    assert set(parameters) == {
        "q", "namespace", "category", "tag", "hardware", "accelerator", "max_memory",
        "fork_of", "fork", "sort", "page", "per_page",
    }  # fmt: skip
    assert all(p["in"] == "query" and not p["required"] for p in parameters.values())
    tag = parameters["tag"]["schema"]["anyOf"][0]
    assert tag == {"type": "array", "items": {"type": "string"}}
    assert parameters["hardware"]["description"] == "gpu or cpu"


def test_request_id_is_echoed(client: TestClient) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": "abc123"})

    assert response.headers["x-request-id"] == "abc123"


def test_hub_serve_bootstraps_an_admin_token_once_and_logs_json(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "HUB_ADMIN_TOKEN"}
    data = tmp_path / "data"
    hub = start_live_hub(data, env=env)
    try:
        token_file = data / "admin-token"
        token = token_file.read_text().strip()
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        assert token in hub.log.read_text(), "the new token is printed once"
        me = httpx.get(f"{hub.url}/api/v1/whoami", headers={"Authorization": f"Bearer {token}"})
        assert me.json()["is_admin"] is True
        httpx.get(f"{hub.url}/api/v1/components/x/y")
    finally:
        hub.stop()
    lines = [json.loads(line) for line in hub.log.read_text().splitlines() if line.startswith("{")]
    access = [line for line in lines if line["logger"] == "hub.access"]
    assert any(
        line["status"] == 404 and line["path"] == "/api/v1/components/x/y" for line in access
    )
    assert all("duration_ms" in line and "request_id" in line for line in access)

    restarted = start_live_hub(data, env=env)
    try:
        assert token not in restarted.log.read_text(), "a restart does not make a new token"
        assert token_file.read_text().strip() == token
        me = httpx.get(
            f"{restarted.url}/api/v1/whoami", headers={"Authorization": f"Bearer {token}"}
        )
        assert me.status_code == 200
    finally:
        restarted.stop()


def test_cli_help_is_fast_and_does_not_import_the_server() -> None:
    code = (
        "import sys; from hub_cli.main import app; "
        "assert 'kfp' not in sys.modules and 'hub_server.app' not in sys.modules, "
        "sorted(m for m in sys.modules if m.startswith(('kfp', 'hub_server')))"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_hub_serve_publishes_the_builtins_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {"HUB_SEED_BUILTINS": "true", "HUB_ADMIN_TOKEN": "hub_seed-test-token-0123456789"}
    hub = start_live_hub(data, env=env)
    try:
        listed = httpx.get(f"{hub.url}/api/v1/components", params={"namespace": "library"}).json()
    finally:
        hub.stop()
    names = sorted(c["name"] for c in listed["items"])
    assert names == [
        "evaluate-model",
        "load-dataset",
        "split-data",
        "train-sklearn",
        "train-xgboost",
        "visualize-performance",
    ]
    assert "published now: library/" in hub.log.read_text()

    again = start_live_hub(data, env=env)
    again.stop()
    assert "all up to date" in again.log.read_text()


def test_the_supervisor_of_hub_serve_imports_nothing_of_the_server(tmp_path: Path) -> None:
    """`hub serve` migrates, bootstraps and seeds in a child process, then becomes (exec, same
    pid) `python -m hub_server.supervisor`: the process that supervises the workers holds the
    standard library and the hub's log formatter, never uvicorn, asyncio or multiprocessing,
    SQLAlchemy, the services, kfp, or the CLI's typer and pydantic."""
    forbidden = [
        "uvicorn",
        "asyncio",
        "multiprocessing",
        "concurrent",
        "sqlalchemy",
        "sqlmodel",
        "alembic",
        "kfp",
        "hub_server.serve",
        "hub_server.services",
        "hub_server.app",
        "hub_server.settings",
        "fastapi",
        "starlette",
        "pydantic",
        "typer",
        "click",
        "hub_cli",
    ]
    serve_cli = (
        "import os, sys\n"
        "def execv(path, argv):\n"
        "    print('EXEC', argv[1:])\n"
        "    raise SystemExit(0)\n"
        "os.execv = execv\n"
        "from hub_cli.main import app\n"
        "app(['serve', '--data-dir', sys.argv[1], '--workers', '2'])\n"
    )
    data = tmp_path / "data"
    env = {**os.environ, "HUB_SEED_BUILTINS": "true", "HUB_LOG_FORMAT": "text"}
    env.pop("HUB_ADMIN_TOKEN", None)
    env.pop("HUB_DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-c", serve_cli, str(data)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    exec_line = next(line for line in result.stdout.splitlines() if line.startswith("EXEC"))
    assert exec_line == (
        "EXEC ['-m', 'hub_server.supervisor', '--host', '127.0.0.1', '--port', '8000', "
        "'--workers', '2', '--log-level', 'INFO', '--log-format', 'text']"
    )
    # It still did all of the preparing, saying so as before.
    token = (data / "admin-token").read_text().strip()
    assert f"\n    {token}\n" in result.stderr
    assert "Built-in components: 6 in library/, published now: library/" in result.stderr

    # The supervisor, run for real on the hub just prepared: -X importtime lists every module
    # it imports, at its start, while it replaces a worker and while it stops (its workers are
    # started without the option, so their imports are not listed).
    port = free_port()
    log = tmp_path / "supervisor.log"
    env["HUB_DATA_DIR"] = str(data)
    with log.open("wb") as out:
        supervisor = subprocess.Popen(
            [
                *(sys.executable, "-X", "importtime", "-m", "hub_server.supervisor"),
                *("--port", str(port), "--workers", "2", "--log-format", "text"),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env=env,
        )
    try:
        url = f"http://127.0.0.1:{port}/healthz"
        _wait_until(lambda: _answers(url), "the hub answers")
        first = int(re.findall(r"worker (\d+) started", log.read_text())[0])
        os.kill(first, signal.SIGKILL)
        _wait_until(lambda: log.read_text().count(" started") == 3, "a worker replaced")
        _wait_until(lambda: _answers(url), "the hub answers again")
        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(timeout=35) == 0
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
    imported = {
        line.rpartition("|")[2].strip()
        for line in log.read_text().splitlines()
        if line.startswith("import time:")
    }
    assert {"subprocess", "socket", "hub_server.logs"} <= imported, "the listing is there"
    loaded = sorted(
        name for name in imported for top in forbidden if name == top or name.startswith(top + ".")
    )
    assert loaded == []


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.TransportError:
        return False


def _wait_until(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.1)


def test_hub_serve_reports_a_preparation_failure_as_before(tmp_path: Path) -> None:
    env = {**os.environ, "HUB_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}
    result = subprocess.run(
        [sys.executable, "-m", "hub_cli.main", "serve", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: unexpected OperationalError: (psycopg.Operational")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("given", "expected"), [(None, "2"), ("4", "4")])
def test_serving_processes_cap_malloc_arenas(given: str | None, expected: str) -> None:
    """hub serve caps glibc's malloc arenas in the serving process and, through the
    environment, in its workers; an explicit MALLOC_ARENA_MAX wins."""
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    if given is not None:
        env["MALLOC_ARENA_MAX"] = given
    code = (
        "import os; from hub_server.serve import limit_malloc_arenas; limit_malloc_arenas(); "
        "print(os.environ['MALLOC_ARENA_MAX'])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == expected


def test_workers_trim_their_heap_while_they_run(settings: Settings) -> None:
    """Every HUB_HEAP_TRIM_SECONDS a worker hands its freed heap back (glibc's malloc_trim);
    0 switches it off."""
    import time as _time

    from hub_server.memory import trimmer

    trim = trimmer()
    assert trim is not None, "glibc on Linux: malloc_trim is there"
    assert trim() in (0, 1)
    app = create_app(settings.model_copy(update={"heap_trim_seconds": 0.05}))
    try:
        with TestClient(app):
            deadline = _time.monotonic() + 5
            while app.state.heap.runs < 2 and _time.monotonic() < deadline:
                _time.sleep(0.05)
            assert app.state.heap.runs >= 2
        runs = app.state.heap.runs
        _time.sleep(0.2)
        assert app.state.heap.runs == runs, "stopped with the app"
    finally:
        app.state.hub.engine.dispose()
    off = create_app(settings.model_copy(update={"heap_trim_seconds": 0}))
    try:
        with TestClient(off):
            _time.sleep(0.2)
            assert off.state.heap.runs == 0
    finally:
        off.state.hub.engine.dispose()
