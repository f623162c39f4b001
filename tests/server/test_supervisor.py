"""`hub serve --workers N`: the supervisor and its workers, as real processes.

The process tree is read from /proc (Linux). Which worker answers is made certain by stopping
(SIGSTOP) every other one: the listening socket is shared, so whoever accepts is the one left.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from hub_server.serve import prepare
from hub_server.settings import Settings
from tests.conftest import ADMIN_TOKEN, ROOT, LiveHub, free_port, start_live_hub

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads the process tree from /proc"
)


def children(pid: int) -> list[int]:
    """The pids of ``pid``'s child processes."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def command_line(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def is_gone(pid: int) -> bool:
    """No such process, or only its zombie (whoever adopted it has not reaped it yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rpartition(")")[2].split()[0] == "Z"


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout} s: {what}")
        time.sleep(0.1)


def worker_pids(supervisor: int, count: int) -> list[int]:
    """The supervisor's ``count`` workers, once all of them are running the worker module."""

    def started() -> bool:
        pids = children(supervisor)
        return len(pids) == count and all(
            "-m hub_server.worker" in command_line(pid) for pid in pids
        )

    wait_for(started, 30, f"{count} workers under {supervisor}: {children(supervisor)}")
    return sorted(children(supervisor))


def answers_alone(url: str, worker: int, others: list[int], requests: int = 5) -> bool:
    """Whether ``worker`` answers /healthz while every other worker is stopped."""
    for pid in others:
        os.kill(pid, signal.SIGSTOP)
    try:
        return all(
            httpx.get(f"{url}/healthz", timeout=30).status_code == 200 for _ in range(requests)
        )
    finally:
        for pid in others:
            os.kill(pid, signal.SIGCONT)


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[LiveHub]:
    live = start_live_hub(
        tmp_path / "data", env={"HUB_ADMIN_TOKEN": ADMIN_TOKEN, "HUB_LOG_FORMAT": "text"}, workers=2
    )
    yield live
    live.stop()


def test_the_supervisor_runs_exactly_its_workers_and_each_answers(hub: LiveHub) -> None:
    supervisor = hub.process.pid
    workers = worker_pids(supervisor, 2)

    assert "-m hub_server.supervisor" in command_line(supervisor)
    assert sorted(children(supervisor)) == workers
    for worker in workers:  # its package checker, and no other process (no resource tracker)
        # The helper starts with the worker's app, a moment after the worker process itself.
        wait_for(lambda w=worker: len(children(w)) > 0, 10, "the package checker started")
        (helper,) = children(worker)
        assert "-m hub_server.validator" in command_line(helper)
    for _ in range(20):
        response = httpx.get(f"{hub.url}/healthz", headers={"Connection": "close"})
        assert response.status_code == 200
    first, second = workers
    assert answers_alone(hub.url, first, [second])
    assert answers_alone(hub.url, second, [first])


def test_a_worker_that_dies_is_replaced(hub: LiveHub) -> None:
    supervisor = hub.process.pid
    victim, survivor = worker_pids(supervisor, 2)

    os.kill(victim, signal.SIGKILL)

    wait_for(lambda: victim not in children(supervisor), 10, "the dead worker reaped")
    workers = worker_pids(supervisor, 2)
    (replacement,) = set(workers) - {survivor}
    assert answers_alone(hub.url, replacement, [survivor])
    assert answers_alone(hub.url, survivor, [replacement])
    log = hub.log.read_text()
    assert f"worker {victim} exited (killed by SIGKILL)" in log
    assert f"worker {replacement} started" in log
    assert hub.process.poll() is None


def test_sigterm_lets_requests_finish_then_stops_every_process_with_exit_0(
    hub: LiveHub,
) -> None:
    workers = worker_pids(hub.process.pid, 2)
    for worker in workers:  # both are serving (the second may still have been starting)
        assert answers_alone(hub.url, worker, [w for w in workers if w != worker], requests=1)
    # A publish whose upload is still arriving when SIGTERM comes: the worker reads the body
    # before it answers, so the request is in flight until the rest is sent.
    body = (
        b'--B\r\nContent-Disposition: form-data; name="archive"; filename="t.tar.gz"\r\n'
        b"Content-Type: application/gzip\r\n\r\n" + b"x" * 64 + b"\r\n--B--\r\n"
    )
    head = (
        "POST /api/v1/components/alice/train/versions HTTP/1.1\r\nHost: hub\r\n"
        f"Content-Type: multipart/form-data; boundary=B\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    port = int(hub.url.rpartition(":")[2])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as upload:
        upload.sendall(head.encode() + body[:40])
        time.sleep(0.5)  # the worker has read the head and waits for the rest of the body

        hub.process.send_signal(signal.SIGTERM)

        time.sleep(1)
        assert hub.process.poll() is None, "the supervisor waits for the request"
        upload.sendall(body[40:])
        answer = b""
        while chunk := upload.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 401 "), answer[:200]  # answered (no token) and closed
    assert hub.process.wait(timeout=10) == 0
    assert all(is_gone(pid) for pid in workers)
    log = hub.log.read_text()
    assert all(f"Finished server process [{pid}]" in log for pid in workers), "uvicorn's stop"
    assert "killing it" not in log


def test_workers_do_not_outlive_a_killed_supervisor(hub: LiveHub) -> None:
    workers = worker_pids(hub.process.pid, 2)

    hub.process.kill()
    hub.process.wait()

    wait_for(lambda: all(is_gone(pid) for pid in workers), 15, f"workers {workers} gone")


def test_workers_that_do_not_stop_are_killed_after_the_graceful_timeout(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    prepare(Settings(data_dir=data, admin_token=ADMIN_TOKEN))
    port = free_port()
    env = {**os.environ, "HUB_DATA_DIR": str(data), "HUB_LOG_FORMAT": "text"}
    log = tmp_path / "supervisor.log"
    with log.open("wb") as out:
        supervisor = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hub_server.supervisor",
                *("--port", str(port), "--workers", "2", "--graceful-timeout", "1"),
                *("--log-format", "text"),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=ROOT,
        )
    try:
        stuck, other = worker_pids(supervisor.pid, 2)
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=30).status_code == 200
        os.kill(stuck, signal.SIGSTOP)  # it cannot answer SIGTERM

        supervisor.send_signal(signal.SIGTERM)

        assert supervisor.wait(timeout=15) == 0
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
    assert is_gone(stuck)
    assert is_gone(other)
    assert f"worker {stuck} is still running; killing it" in log.read_text()


def _serve(tmp_path: Path, *options: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "hub_cli.main",
        "serve",
        *("--data-dir", str(tmp_path / "data"), "--workers", "2"),
        *options,
    ]


def _env(**extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "HUB_ADMIN_TOKEN": ADMIN_TOKEN,
        "HUB_SEED_BUILTINS": "false",
        "HUB_LOG_FORMAT": "text",
        **extra,
    }


def test_a_taken_port_is_one_line_and_exit_1(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            _serve(tmp_path, "--port", str(port)),
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=_env(),
            timeout=120,
        )

    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        f"hub serve: cannot listen on 127.0.0.1:{port}: Address already in use"
    )
    assert "Traceback" not in result.stderr
    assert "serving on" not in result.stderr


def test_the_supervisor_gives_up_when_workers_cannot_start(tmp_path: Path) -> None:
    """Preparing never opens the blob storage (nothing to seed), so a storage URL of an unknown
    scheme passes it; every worker then fails to build its app."""
    result = subprocess.run(
        _serve(tmp_path, "--port", str(free_port())),
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=_env(HUB_STORAGE_URL="ftp://nowhere/blobs"),
        timeout=120,
    )

    assert result.returncode == 1
    last = result.stderr.splitlines()[-1]
    assert last.startswith("hub serve: 4 workers exited within 15 s of their start"), last
    assert "(the last: exit code 1)" in last
    # Each failed worker said why. The workers share one stderr, so a line of one may start
    # in the middle of another's: count the message, not a line that starts with it.
    assert "hub_server.errors.BadRequest: unsupported storage URL" in result.stderr
    assert result.stderr.count("unsupported storage URL 'ftp://nowhere/blobs'") >= 4
    started = [int(pid) for pid in re.findall(r"worker (\d+) started", result.stderr)]
    assert 4 <= len(started) <= 6, "the two it started, then one for each that exited"
    assert all(is_gone(pid) for pid in started)


def test_an_ipv6_address_is_served(tmp_path: Path) -> None:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
            port = probe.getsockname()[1]
    except OSError:
        pytest.skip("no IPv6 loopback here")
    log = tmp_path / "hub.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            _serve(tmp_path, "--host", "::1", "--port", str(port)),
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env=_env(),
        )
    try:
        workers = worker_pids(server.pid, 2)
        url = f"http://[::1]:{port}"
        assert answers_alone(url, workers[0], workers[1:])
        assert answers_alone(url, workers[1], workers[:1])
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=35) == 0
    finally:
        if server.poll() is None:
            server.kill()
    assert f"Component Hub serving on {url} (API docs: /docs)" in log.read_text()
