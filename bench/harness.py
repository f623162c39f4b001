"""The pieces a load run is made of: a live ``hub serve`` and the bare-FastAPI ceiling as
subprocesses, wrk as the load generator, the server's memory, and the machine's description."""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
LUA = Path(__file__).resolve().parent / "lua" / "rotate.lua"
WRK_MISSING = "bench needs wrk, the HTTP load generator: apt-get install wrk"

BARE_APP = textwrap.dedent(
    """
    from fastapi import FastAPI

    app = FastAPI()


    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"status": "ok", "version": "1.2.3"}
    """
)
PACKAGES = (
    "fastapi",
    "starlette",
    "uvicorn",
    "uvloop",
    "httptools",
    "pydantic",
    "sqlalchemy",
    "sqlmodel",
    "psycopg",
    "alembic",
    "jinja2",
    "kfp",
)


def require_wrk() -> str:
    """The path of wrk; exits with one line saying how to install it when it is missing."""
    path = shutil.which("wrk")
    if not path:
        raise SystemExit(WRK_MISSING)
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# ----------------------------------------------------------------------------- processes


@dataclass
class Server:
    """A server subprocess listening on loopback."""

    name: str
    process: subprocess.Popen[bytes]
    base_url: str
    log: Path

    def wait_ready(self, path: str, timeout: float = 300.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = self.log.read_text(errors="replace")[-2000:]
                raise SystemExit(f"{self.name} exited early ({self.process.returncode}):\n{tail}")
            try:
                if httpx.get(self.base_url + path, timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise SystemExit(f"{self.name} did not answer {path} within {timeout:.0f}s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def memory(self) -> dict[str, Any]:
        return process_tree_memory(self.process.pid)


def start_hub(
    data_dir: Path,
    *,
    workers: int,
    admin_token: str,
    database_url: str | None,
    log_level: str,
    log_dir: Path,
) -> Server:
    """``hub serve`` on a free loopback port, as a user starts it."""
    port = free_port()
    env = {
        **os.environ,
        "HUB_ADMIN_TOKEN": admin_token,
        "HUB_LOG_LEVEL": log_level,
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("HUB_DATABASE_URL", None)
    if database_url:
        env["HUB_DATABASE_URL"] = database_url
    log = log_dir / f"hub-{port}.log"
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "hub_cli.main", "serve", "--port", str(port),
             "--data-dir", str(data_dir), "--workers", str(workers)],
            env=env, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT,
        )  # fmt: skip
    return Server("hub serve", process, f"http://127.0.0.1:{port}", log)


def start_bare(workdir: Path, *, workers: int) -> Server:
    """The ceiling: a bare FastAPI app on the same uvicorn setup (uvloop, httptools)."""
    port = free_port()
    (workdir / "bare_app.py").write_text(BARE_APP)
    log = workdir / f"bare-{port}.log"
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "bare_app:app", "--port", str(port),
             "--workers", str(workers), "--loop", "uvloop", "--http", "httptools",
             "--log-level", "warning", "--no-access-log"],
            cwd=workdir, stdout=handle, stderr=subprocess.STDOUT,
        )  # fmt: skip
    return Server("bare FastAPI", process, f"http://127.0.0.1:{port}", log)


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command may contain spaces and parentheses: the ppid follows the last ")".
        if int(stat.rpartition(")")[2].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def _status_kib(pid: int) -> dict[str, int]:
    values = {}
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    for key in ("VmRSS", "VmHWM"):
        match = re.search(rf"^{key}:\s+(\d+) kB", text, re.MULTILINE)
        if match:
            values[key] = int(match.group(1))
    return values


def process_tree_memory(pid: int) -> dict[str, Any]:
    """RSS (now) and peak RSS (VmHWM) of a process and all its descendants, in MiB."""
    pids, queue = [], [pid]
    while queue:
        current = queue.pop()
        pids.append(current)
        queue.extend(_children(current))
    processes = []
    for p in pids:
        status = _status_kib(p)
        if status:
            processes.append(
                {
                    "pid": p,
                    "rss_mib": round(status.get("VmRSS", 0) / 1024, 1),
                    "peak_mib": round(status.get("VmHWM", 0) / 1024, 1),
                }
            )
    return {
        "total_rss_mib": round(sum(p["rss_mib"] for p in processes), 1),
        "total_peak_mib": round(sum(p["peak_mib"] for p in processes), 1),
        "processes": processes,
    }


def _cpu_busy_and_total() -> tuple[int, int]:
    """The machine's CPU time so far (all cores, in ticks): busy, and busy plus idle."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # guest time is counted in user time already
    return total - idle, total


def wait_idle(*, busy_below: float = 0.1, window: float = 0.25, timeout: float = 15.0) -> float:
    """Wait until the machine's CPUs are less than ``busy_below`` busy over ``window`` seconds
    (at most ``timeout``); return the seconds waited.

    When wrk stops, the server is not done: requests it had queued (up to one per connection,
    each in a thread pool or waiting for the search gate, or a PostgreSQL backend still
    working) go on for a while. Measured straight away, the next figure would pay for them.
    """
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        busy0, total0 = _cpu_busy_and_total()
        time.sleep(window)
        busy1, total1 = _cpu_busy_and_total()
        if total1 > total0 and (busy1 - busy0) / (total1 - total0) < busy_below:
            break
    return time.monotonic() - start


# ----------------------------------------------------------------------------- wrk


def write_requests(path: Path, requests: list[tuple[str, str, str, dict[str, str]]]) -> Path:
    """Write the request list rotate.lua reads: (method, path, body file or "-", headers)."""
    lines = []
    for method, target, body, headers in requests:
        fields = [method, target, body]
        for name, value in headers.items():
            fields += [name, value]
        if any("\t" in f or "\n" in f for f in fields):
            raise ValueError(f"a request field holds a tab or newline: {fields!r}")
        lines.append("\t".join(fields))
    path.write_text("\n".join(lines) + "\n")
    return path


def run_wrk(
    base_url: str, requests_file: Path, *, connections: int, duration: float, threads: int = 1
) -> dict[str, Any]:
    """Load ``base_url`` with wrk for ``duration`` seconds at fixed ``connections``.

    One wrk thread by default: on a small machine every core wrk takes is one the server under
    test loses, and one thread drives tens of thousands of requests per second.

    Returns:
        requests/s, latency percentiles (ms), errors (non-2xx/3xx and socket errors).
    """
    command = [
        require_wrk(),
        f"-t{min(threads, connections)}",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        base_url,
        "--",
        str(requests_file),
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=duration + 60, check=False
    )
    match = re.search(r"^BENCH_JSON (\{.*\})$", done.stdout, re.MULTILINE)
    if done.returncode != 0 or not match:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    raw = json.loads(match.group(1))
    seconds = raw["duration_us"] / 1e6
    socket_errors = raw["connect_errors"] + raw["read_errors"] + raw["write_errors"]
    return {
        "requests": raw["requests"],
        "seconds": round(seconds, 2),
        "rps": round(raw["requests"] / seconds, 1) if seconds else 0.0,
        "mean_ms": round(raw["mean_us"] / 1000, 2),
        "p50_ms": round(raw["p50_us"] / 1000, 2),
        "p90_ms": round(raw["p90_us"] / 1000, 2),
        "p95_ms": round(raw["p95_us"] / 1000, 2),
        "p99_ms": round(raw["p99_us"] / 1000, 2),
        "p999_ms": round(raw["p999_us"] / 1000, 2),
        "max_ms": round(raw["max_us"] / 1000, 2),
        "non_2xx_3xx": raw["status_errors"],
        "socket_errors": socket_errors,
        "timeouts": raw["timeouts"],
    }


# ----------------------------------------------------------------------------- machine


def loadavg() -> list[float]:
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return []


def machine(postgres_version: str | None = None) -> dict[str, Any]:
    """What the figures were measured on."""
    cpu_model = ""
    memory_mib = 0
    try:
        cpu_model = next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            "",
        )
        mem = re.search(r"^MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text(), re.M)
        memory_mib = int(mem.group(1)) // 1024 if mem else 0
    except OSError:
        pass
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    wrk_version = ""
    wrk = shutil.which("wrk")
    if wrk:
        probe = subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False)
        wrk_version = (probe.stdout or probe.stderr).splitlines()[0] if probe else ""
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "hostname": platform.node(),
        "cores": os.cpu_count(),
        "cpu_model": cpu_model,
        "memory_mib": memory_mib,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "packages": versions,
        "sqlite": sqlite3.sqlite_version,
        "postgresql": postgres_version,
        "wrk": wrk_version,
        "loadavg_at_start": loadavg(),
    }
