"""What a change to a hot path would gain, measured before anyone changes the server.

Serves the real app (:func:`hub_server.app.create_app`, same middleware, same engine) with a few
*prototype* routes added under ``/proto``, each a candidate optimisation of a real route that
answers the same bytes, and loads real and prototype routes with wrk as :mod:`bench.run` does:

- ``resolve``: the real route (repeats answered by the read cache);
- ``resolve_hop1``: the service call through one thread-pool hop, no cache, the model
  serialized once;
- ``resolve_inline``: the same service call in the event loop, no cache;
- ``archive`` against ``archive_nopull``: the download without its pull-count write;
- ``search`` against ``search_inline``: the same search without the thread pool;
- ``hub_ping``: the ceiling's route served by the hub's app (its middleware, its routes).

The prototypes that led to the read cache (two-query resolve, a revalidated per-worker cache)
became the real code (``hub_server/api/cache.py``, ``ComponentService.resolve``); the suite's
``resolve`` and ``resolve_uncached`` measure them.

Usage (on a database kept by ``bench.run --keep`` or seeded by ``bench.seed``)::

    python -m bench.experiments --data-dir DIR [--database-url URL] [--duration 10]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlmodel import Session

from bench import harness
from bench import run as suite
from hub_server.app import create_app
from hub_server.services.components import ComponentService
from hub_server.settings import Settings

PROTO = "/proto"


def create_proto_app() -> FastAPI:
    """The hub's app from the environment, plus the prototype routes."""
    app = create_app(Settings())
    state = app.state.hub

    def service(session: Session) -> ComponentService:
        return ComponentService(session, state.storage, state.settings.archive_limits)

    def resolve_body(namespace: str, name: str, spec: str) -> bytes:
        with Session(state.engine, expire_on_commit=False) as session:
            return service(session).resolve(namespace, name, spec).model_dump_json().encode()

    def json_response(body: bytes) -> Response:
        return Response(body, media_type="application/json")

    route = f"{PROTO}/{{variant}}/components/{{namespace}}/{{name}}"

    @app.get(route + "/resolve", include_in_schema=False)
    async def resolve(variant: str, namespace: str, name: str, spec: str = "") -> Response:
        if variant == "hop1":
            return json_response(await run_in_threadpool(resolve_body, namespace, name, spec))
        return json_response(resolve_body(namespace, name, spec))

    @app.get(route + "/versions/{version}/archive", include_in_schema=False)
    def archive_nopull(
        variant: str, namespace: str, name: str, version: str, request: Request
    ) -> Response:
        with Session(state.engine, expire_on_commit=False) as session:
            blob = service(session).read_archive(namespace, name, version)
        return Response(
            blob.data,
            media_type="application/gzip",
            headers={
                "ETag": f'"{blob.digest}"',
                "Cache-Control": "public, max-age=31536000, immutable",
                "Content-Disposition": (
                    f'attachment; filename="{namespace}-{name}-{version}.tar.gz"'
                ),
            },
        )

    @app.get(f"{PROTO}/ping", include_in_schema=False)
    async def ping() -> dict[str, str]:
        # The ceiling's route inside the hub's app: what its middleware and routing cost.
        return {"status": "ok", "version": "1.2.3"}

    @app.get(f"{PROTO}/{{variant}}/components", include_in_schema=False)
    async def search(variant: str, q: str | None = None, hardware: str | None = None) -> Response:
        with Session(state.engine, expire_on_commit=False) as session:
            page = service(session).list_components(q=q, hardware=hardware)
        return json_response(page.model_dump_json().encode())

    return app


def _start_proto(data_dir: Path, database_url: str | None, workers: int, log: Path) -> Any:
    port = harness.free_port()
    env = {**os.environ, "HUB_DATA_DIR": str(data_dir), "HUB_LOG_LEVEL": "WARNING"}
    env.pop("HUB_DATABASE_URL", None)
    if database_url:
        env["HUB_DATABASE_URL"] = database_url
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "bench.experiments:create_proto_app", "--factory",
             "--port", str(port), "--workers", str(workers), "--loop", "uvloop",
             "--http", "httptools", "--log-level", "warning", "--no-access-log"],
            env=env, cwd=harness.ROOT, stdout=handle, stderr=subprocess.STDOUT,
        )  # fmt: skip
    return harness.Server("proto", process, f"http://127.0.0.1:{port}", log)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--database-url")
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--connections", default="1,32")
    parser.add_argument("--only", help="comma-separated variants")
    args = parser.parse_args()
    harness.require_wrk()
    settings = Settings(data_dir=args.data_dir, database_url=args.database_url)
    from hub_server.db import make_engine

    engine = make_engine(settings.resolved_database_url)
    rng = random.Random(11)
    targets = suite.sample_targets(engine, 2000, rng)
    words = suite.search_words(rng)
    engine.dispose()
    resolve_paths = [
        r[1].removeprefix(suite.API) for r in suite.read_requests("resolve", targets, [], rng)
    ]
    archive_paths = [
        r[1].removeprefix(suite.API) for r in suite.read_requests("archive", targets, [], rng)
    ]
    variants: dict[str, list[str]] = {
        "hub_ping": [f"{PROTO}/ping"],
        "resolve": [suite.API + p for p in resolve_paths],
        "resolve_hop1": [f"{PROTO}/hop1/components" + p for p in resolve_paths],
        "resolve_inline": [f"{PROTO}/inline/components" + p for p in resolve_paths],
        "archive": [suite.API + p for p in archive_paths],
        "archive_nopull": [f"{PROTO}/x/components" + p for p in archive_paths],
        "search": [f"{suite.API}?q={w}" for w in words],
        "search_inline": [f"{PROTO}/inline/components?q={w}" for w in words],
    }
    only = args.only.split(",") if args.only else list(variants)
    connections = [int(c) for c in args.connections.split(",")]
    options = argparse.Namespace(warmup=2, duration=args.duration, connections=connections)
    with tempfile.TemporaryDirectory(prefix="hub-proto-") as tmp:
        scratch = Path(tmp)
        proto = _start_proto(args.data_dir, args.database_url, args.workers, scratch / "p.log")
        bare = harness.start_bare(scratch, workers=args.workers)
        try:
            proto.wait_ready("/healthz")
            bare.wait_ready("/ping")
            assert httpx.get(proto.base_url + variants["resolve"][0]).status_code == 200
            real = httpx.get(proto.base_url + variants["resolve"][0]).json()
            for key in ("resolve_hop1", "resolve_inline"):
                assert httpx.get(proto.base_url + variants[key][0]).json() == real, key
            ceiling_file = harness.write_requests(scratch / "c.tsv", [("GET", "/ping", "-", {})])
            rows = [("ceiling", suite.measure(bare, ceiling_file, options))]  # type: ignore[arg-type]
            for key in only:
                file = harness.write_requests(
                    scratch / f"{key}.tsv", [("GET", p, "-", {}) for p in variants[key]]
                )
                rows.append((key, suite.measure(proto, file, options)))  # type: ignore[arg-type]
        finally:
            proto.stop()
            bare.stop()
    ceiling = {r["connections"]: r["rps"] for r in rows[0][1]}
    print(f"{'variant':<16} {'conns':>5} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'x ceil':>7}")
    for key, results in rows:
        for r in results:
            print(
                f"{key:<16} {r['connections']:>5} {r['rps']:>8.0f} {r['p50_ms']:>8.2f} "
                f"{r['p99_ms']:>8.2f} {r['rps'] / ceiling[r['connections']]:>7.2f}"
                + (f"  errors: {r['non_2xx_3xx']}" if r["non_2xx_3xx"] else "")
            )


if __name__ == "__main__":
    main()
