"""Warm-cache client benchmark: `hub pull` as a whole process, and `load_component` in-process.

Starts a live `hub serve` on a temporary SQLite store, publishes one component (a KFP v2 spec
compiled by kfp, with cpu and gpu variants), pulls it once to warm a temporary cache, then
times:

* ``hub pull ns/name@1.0.0`` (exact version: answered from the cache, no request) and
  ``hub pull ns/name@^1.0`` (one resolve request, the archive is cached), each as a whole
  ``python -m hub_cli.main`` process, the way a user or a CI step runs it;
* ``load_component(...)`` in one process, the cache warm and kfp already imported: the cost
  a pipeline module pays per component it loads (the gpu variant, so the spec is rewritten
  too).

Prints mean and median (p50) and p90 for each. Usage: ``python bench/pull.py [--runs 15]
[--iterations 200]``.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from hub_server.archive import pack

ROOT = Path(__file__).resolve().parent.parent
ADMIN = "hub_bench-admin-token-0123456789"
REF = "bench/train"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_hub(data_dir: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    log = (data_dir.parent / "hub.log").open("wb")
    command = [sys.executable, "-m", "hub_cli.main", "serve", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--data-dir", str(data_dir)],
        stdout=log,
        stderr=subprocess.STDOUT,
        # Image pinning asks registries over the network at publish time: not measured here.
        env={
            **env,
            "HUB_ADMIN_TOKEN": ADMIN,
            "HUB_LOG_LEVEL": "WARNING",
            "HUB_RESOLVE_IMAGES": "0",
        },
        cwd=ROOT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"hub serve exited early; see {log.name}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("hub serve did not answer in 30 s")


def publish(url: str, workdir: Path) -> None:
    sys.path.insert(0, str(ROOT))
    from tests.factories import make_package

    folder = make_package(workdir, name="train", version="1.0.0")
    response = httpx.post(
        f"{url}/api/v1/components/bench/train/versions",
        files={"archive": ("train.tar.gz", pack(folder), "application/gzip")},
        headers={"Authorization": f"Bearer {ADMIN}"},
    )
    response.raise_for_status()


def time_process(command: list[str], env: dict[str, str], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, env=env, cwd=ROOT, check=True, capture_output=True)
        samples.append(time.perf_counter() - started)
    return samples


def time_calls(call: Callable[[], object], iterations: int) -> list[float]:
    samples = []
    for _ in range(iterations):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


def row(name: str, samples: list[float], unit: float, suffix: str) -> str:
    ordered = sorted(samples)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    return (
        f"{name:<44} {len(samples):>5}  {statistics.mean(samples) * unit:>8.1f}{suffix}"
        f"  {statistics.median(samples) * unit:>8.1f}{suffix}  {p90 * unit:>8.1f}{suffix}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="`hub pull` processes per case")
    parser.add_argument("--iterations", type=int, default=200, help="load_component calls")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="hub-bench-pull-") as tmp:
        root = Path(tmp)
        (root / "home").mkdir()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("HUB_")},
            "HOME": str(root / "home"),
            "XDG_CONFIG_HOME": str(root / "home" / ".config"),
            "HUB_CACHE_DIR": str(root / "cache"),
        }
        hub, url = start_hub(root / "data", env)
        try:
            env["HUB_URL"] = url
            publish(url, root / "src")
            pull = [sys.executable, "-m", "hub_cli.main", "pull"]
            subprocess.run([*pull, f"{REF}@1.0.0"], env=env, cwd=ROOT, check=True)
            exact = time_process([*pull, f"{REF}@1.0.0"], env, args.runs)
            ranged = time_process([*pull, f"{REF}@^1.0"], env, args.runs)
            baseline = time_process([sys.executable, "-c", "pass"], env, args.runs)

            os.environ.update({k: v for k, v in env.items() if k.startswith(("HUB_", "XDG_"))})
            import kfp.dsl  # noqa: F401 - imported before timing, as a pipeline module does

            from hub_cli import load_component

            load_component(f"{REF}@1.0.0", hardware="gpu", lock=False)  # warm
            loads = time_calls(
                lambda: load_component(f"{REF}@1.0.0", hardware="gpu", lock=False),
                args.iterations,
            )
            ranged_loads = time_calls(
                lambda: load_component(f"{REF}@^1.0", hardware="gpu", lock=False),
                max(args.iterations // 4, 1),
            )
        finally:
            hub.terminate()
            hub.wait(timeout=10)

    print(f"\n{'case':<44} {'n':>5}  {'mean':>10}  {'p50':>10}  {'p90':>10}")
    print(row("hub pull @1.0.0 (whole process, cached)", exact, 1000, "ms"))
    print(row("hub pull @^1.0 (whole process, 1 request)", ranged, 1000, "ms"))
    print(row("python -c pass (interpreter start-up)", baseline, 1000, "ms"))
    print(row("load_component @1.0.0 gpu (in-process)", loads, 1000, "ms"))
    print(row("load_component @^1.0 gpu (in-process, 1 req)", ranged_loads, 1000, "ms"))


if __name__ == "__main__":
    main()
