"""Quick resolve benchmark: a live `hub serve` on loopback, loaded by wrk from another process.

Starts a hub on a temporary SQLite store, publishes one component with many versions, then
measures ``GET /resolve?spec=^1.2`` and, as the ceiling of this machine, a bare FastAPI app
answering a small JSON on the same uvicorn setup. Prints requests/s and latency percentiles.

Usage: ``python bench/resolve.py [--versions 60] [--duration 10] [--connections 32]``
(``make bench``). Needs ``wrk`` (Debian package ``wrk``).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx

from hub_server.archive import pack

ROOT = Path(__file__).resolve().parent.parent
ADMIN = "hub_bench-admin-token-0123456789"
SPEC = """\
name: Bench
description: benchmark component
inputs:
- {name: n, type: Integer, default: '1', optional: true}
implementation:
  container:
    image: python:3.11-slim
    command: [python, -c, 'print(1)', {inputValue: n}]
"""
BARE_APP = textwrap.dedent(
    """
    from fastapi import FastAPI
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"status": "ok", "version": "1.2.3"}
    """
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited early ({process.returncode})")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not answer")


def package(folder: Path, version: str) -> bytes:
    folder.mkdir(parents=True)
    (folder / "hub.yaml").write_text(
        f"name: bench\nversion: {version}\ndescription: benchmark component\n"
        "category: other\nlicense: Apache-2.0\nauthors: [bench]\n"
    )
    (folder / "component.yaml").write_text(SPEC)
    (folder / "README.md").write_text("# bench\n")
    return pack(folder)


def wrk(url: str, duration: int, connections: int) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    result = {"rps": rps}
    for pct in ("50", "90", "99"):
        match = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)", out, re.MULTILINE)
        if match:
            value, unit = float(match.group(1)), match.group(2)
            result[f"p{pct}_ms"] = value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    result["non_2xx"] = float(errors.group(1)) if errors else 0.0
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=60)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("bench needs wrk: apt-get install wrk")

    tmp = Path(tempfile.mkdtemp(prefix="hub-bench-"))
    env = {**os.environ, "HUB_ADMIN_TOKEN": ADMIN, "HUB_LOG_LEVEL": "WARNING"}
    port = free_port()
    hub = subprocess.Popen(
        [sys.executable, "-m", "hub_cli.main", "serve", "--port", str(port),
         "--data-dir", str(tmp / "data"), "--workers", str(args.workers)],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    bare_port = free_port()
    (tmp / "bare_app.py").write_text(BARE_APP)
    bare = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bare_app:app", "--port", str(bare_port),
         "--workers", str(args.workers), "--log-level", "warning", "--no-access-log"],
        cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        wait_up(f"{base}/healthz", hub)
        wait_up(f"http://127.0.0.1:{bare_port}/ping", bare)
        headers = {"Authorization": f"Bearer {ADMIN}"}
        for i in range(args.versions):
            version = f"1.{i // 10}.{i % 10}"
            data = package(tmp / "pkg" / version, version)
            response = httpx.post(
                f"{base}/api/v1/components/bench/bench/versions",
                files={"archive": ("a.tar.gz", data)},
                headers=headers,
                timeout=30,
            )
            response.raise_for_status()
        resolve = f"{base}/api/v1/components/bench/bench/resolve?spec=%5E1.2"
        assert httpx.get(resolve).json()["version"].startswith("1.")
        results = {
            "bare FastAPI (ceiling)": wrk(
                f"http://127.0.0.1:{bare_port}/ping", args.duration, args.connections
            ),
            f"resolve ^1.2 ({args.versions} versions)": wrk(
                resolve, args.duration, args.connections
            ),
        }
    finally:
        for process in (hub, bare):
            process.terminate()
            process.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)

    ceiling = results["bare FastAPI (ceiling)"]["rps"]
    print(f"\n{args.connections} connections, {args.duration}s each, {args.workers} worker(s)")
    print(f"{'target':<32} {'req/s':>9} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'ratio':>6}")
    for name, r in results.items():
        print(
            f"{name:<32} {r['rps']:>9.0f} {r.get('p50_ms', 0):>8.2f} {r.get('p90_ms', 0):>8.2f}"
            f" {r.get('p99_ms', 0):>8.2f} {r['rps'] / ceiling:>6.2f}"
            + (f"  ({r['non_2xx']:.0f} non-2xx!)" if r["non_2xx"] else "")
        )


if __name__ == "__main__":
    main()
