"""Where a hot call's time goes, in-process, on a seeded database.

For each call (resolve, get a version, component.yaml, archive, search, search with a hardware
filter, publish) it reports: the service method's mean time; the SQL statements it runs and
their share of the time; the top functions under cProfile; the query plans of its statements
(SQLite ``EXPLAIN QUERY PLAN``, PostgreSQL ``EXPLAIN ANALYZE``); and the same call through the
whole ASGI app in-process (routing, dependencies, thread pool, validation, serialization, no
network), so the framework's share shows against the service's.

Usage (on a database seeded by ``python -m bench.seed`` or kept by ``bench.run --keep``)::

    python -m bench.profile --data-dir /tmp/hub [--database-url postgresql://...] [--calls 300]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import random
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bench import run as suite
from hub_server.app import create_app
from hub_server.db import is_sqlite, make_engine
from hub_server.services.auth import AuthService
from hub_server.services.components import ComponentService
from hub_server.settings import Settings
from hub_server.storage import open_storage


@dataclass
class Statements:
    """SQL statements seen on an engine, with their parameters and time."""

    seen: list[tuple[str, Any, float]] = field(default_factory=list)
    _start: float = 0.0


@contextmanager
def capture(engine: Engine) -> Iterator[Statements]:
    found = Statements()

    def before(_conn: Any, _cursor: Any, _statement: str, _params: Any, *_: Any) -> None:
        found._start = time.perf_counter()

    def after(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        found.seen.append((statement, params, time.perf_counter() - found._start))

    sa.event.listen(engine, "before_cursor_execute", before)
    sa.event.listen(engine, "after_cursor_execute", after)
    try:
        yield found
    finally:
        sa.event.remove(engine, "before_cursor_execute", before)
        sa.event.remove(engine, "after_cursor_execute", after)


def explain(engine: Engine, statement: str, params: Any) -> list[str]:
    if not statement.lstrip().upper().startswith("SELECT"):
        return []
    prefix = "EXPLAIN QUERY PLAN " if is_sqlite(str(engine.url)) else "EXPLAIN ANALYZE "
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(prefix + statement, params)
        rows = cursor.fetchall()
    finally:
        raw.close()
    if is_sqlite(str(engine.url)):
        return [f"{'  ' * (row[1] != 0)}{row[3]}" for row in rows]
    return [row[0] for row in rows]


def time_calls(calls: list[Callable[[], Any]]) -> float:
    """Mean seconds per call (after one untimed call)."""
    calls[0]()
    start = time.perf_counter()
    for call in calls:
        call()
    return (time.perf_counter() - start) / len(calls)


def profile_calls(calls: list[Callable[[], Any]], top: int) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    for call in calls:
        call()
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("tottime")
    stats.print_stats(top)
    lines = out.getvalue().splitlines()
    start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
    return "\n".join(lines[start : start + top + 1])


async def _asgi_mean(app: Any, requests: list[tuple[str, str, dict[str, str]]]) -> float:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hub") as client:
        method, url, headers = requests[0]
        await client.request(method, url, headers=headers)
        start = time.perf_counter()
        for method, url, headers in requests:
            response = await client.request(method, url, headers=headers)
            if response.status_code >= 400:
                raise RuntimeError(f"{url}: {response.status_code} {response.text[:200]}")
        return (time.perf_counter() - start) / len(requests)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--database-url")
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--top", type=int, default=14)
    parser.add_argument("--only", help="comma-separated calls to profile")
    args = parser.parse_args()
    settings = Settings(data_dir=args.data_dir, database_url=args.database_url)
    engine = make_engine(settings.resolved_database_url)
    storage = open_storage(settings.resolved_storage_url)
    rng = random.Random(3)
    # Components with a release a caret range can select (as bench.run's resolve requests).
    targets = [
        t
        for t in suite.sample_targets(engine, args.calls * 2, rng)
        if any(not yanked and not pre for _v, yanked, pre, _d in t.versions)
    ][: args.calls]
    words = suite.search_words(rng)

    def service(session: Session) -> ComponentService:
        return ComponentService(session, storage, settings.archive_limits)

    def with_session(fn: Callable[[ComponentService], Any]) -> Callable[[], Any]:
        def call() -> Any:
            with Session(engine, expire_on_commit=False) as session:
                return fn(service(session))

        return call

    def pick(t: suite.Target) -> str:
        return rng.choice(t.versions)[0]

    def caret(t: suite.Target) -> str:
        live = [v for v, yanked, pre, _ in t.versions if not yanked and not pre]
        major, minor = rng.choice(live).split("+")[0].split(".")[:2]
        return f"^{major}.{minor}"

    plans: dict[str, list[Callable[[], Any]]] = {
        "resolve": [
            with_session(lambda s, t=t, c=caret(t): s.resolve(t.namespace, t.name, c))
            for t in targets
        ],
        "version": [
            with_session(lambda s, t=t, v=pick(t): s.get_version(t.namespace, t.name, v))
            for t in targets
        ],
        "component_yaml": [
            with_session(
                lambda s, t=t, v=pick(t): (
                    s.component_yaml(t.namespace, t.name, v),
                    s.record_pull(t.namespace, t.name, v),
                )
            )
            for t in targets
        ],
        "search": [with_session(lambda s, w=w: s.list_components(q=w)) for w in words * 2],
        "search_gpu": [
            with_session(lambda s, w=w: s.list_components(q=w, hardware="gpu")) for w in words * 2
        ],
    }
    serialize = {
        "resolve": lambda result: result.model_dump_json(),
        "version": lambda result: result.model_dump_json(),
    }
    only = set(args.only.split(",")) if args.only else set(plans)
    app = create_app(settings)
    asgi_requests = {
        "resolve": [
            ("GET", f"{suite.API}/{t.namespace}/{t.name}/resolve?spec={caret(t)}", {})
            for t in targets
        ],
        "version": [
            ("GET", f"{suite.API}/{t.namespace}/{t.name}/versions/{pick(t)}", {}) for t in targets
        ],
        "component_yaml": [
            ("GET", f"{suite.API}/{t.namespace}/{t.name}/versions/{pick(t)}/component.yaml", {})
            for t in targets
        ],
        "search": [("GET", f"{suite.API}?q={w}", {}) for w in words],
        "search_gpu": [("GET", f"{suite.API}?hardware=gpu&q={w}", {}) for w in words],
        "page": [("GET", f"/components/{t.namespace}/{t.name}", {}) for t in targets],
    }
    for name, calls in plans.items():
        if name not in only:
            continue
        print(f"\n=== {name} ({len(calls)} calls, {engine.dialect.name}) ===")
        mean = time_calls(calls)
        with capture(engine) as seen:
            calls[0]()
        print(f"service call: {mean * 1000:.2f} ms mean; {len(seen.seen)} SQL statements")
        if name in serialize:
            with Session(engine) as session:
                t = targets[0]
                result = (
                    service(session).resolve(t.namespace, t.name, caret(t))
                    if name == "resolve"
                    else service(session).get_version(t.namespace, t.name, pick(t))
                )
            start = time.perf_counter()
            for _ in range(200):
                serialize[name](result)
            print(f"  model_dump_json of the result: {(time.perf_counter() - start) * 5:.3f} ms")
        asgi = asyncio.run(_asgi_mean(app, asgi_requests[name]))
        print(f"through the ASGI app in-process: {asgi * 1000:.2f} ms mean per request")
        for statement, params, seconds in seen.seen:
            flat = " ".join(statement.split())
            print(f"- {seconds * 1000:.2f} ms  {flat[:300]}")
            for line in explain(engine, statement, params):
                print(f"      {line}")
        print("top functions (tottime):")
        print(profile_calls(calls[: max(50, len(calls) // 2)], args.top))
    if "page" in only:
        print("\n=== catalogue component page (ASGI in-process) ===")
        mean = asyncio.run(_asgi_mean(app, asgi_requests["page"]))
        print(f"{mean * 1000:.2f} ms mean per request")
    if "publish" in only:
        profile_publish(engine, storage, settings, targets)
    engine.dispose()


def profile_publish(
    engine: Engine, storage: Any, settings: Settings, targets: list[suite.Target]
) -> None:
    import tempfile

    print("\n=== publish (service, in-process) ===")
    with tempfile.TemporaryDirectory() as tmp:
        major = (int(time.time()) - 1_700_000_000) * 4 + 2
        requests = suite.publish_requests(
            engine, targets[:40], major=major, count=80, folder=Path(tmp)
        )
        bodies = []
        for _method, url, body, _headers in requests:
            raw = Path(body).read_bytes()
            start = raw.index(b"\r\n\r\n") + 4
            end = raw.rindex(b"\r\n--")
            namespace, name = url.split("/")[4:6]
            bodies.append((namespace, name, raw[start:end]))
    with Session(engine) as session:
        admin = AuthService(session).get_user("admin")
        from hub_server.services.auth import Principal

        principal = Principal(id=admin.id or 0, name=admin.name, is_admin=True)

    def publish(item: tuple[str, str, bytes]) -> None:
        with Session(engine, expire_on_commit=False) as session:
            ComponentService(session, storage, settings.archive_limits).publish(principal, *item)

    publish(bodies[0])
    times = []
    with capture(engine) as seen:
        publish(bodies[1])
    for item in bodies[2:40]:
        start = time.perf_counter()
        publish(item)
        times.append(time.perf_counter() - start)
    print(f"service publish: {statistics.mean(times) * 1000:.1f} ms mean, {len(seen.seen)} SQL")
    for statement, _params, seconds in seen.seen:
        print(f"- {seconds * 1000:.2f} ms  {' '.join(statement.split())[:160]}")
    print(profile_calls([lambda item=item: publish(item) for item in bodies[40:]], 20))


if __name__ == "__main__":
    main()
