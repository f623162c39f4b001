"""The hub's benchmark suite: seed, serve, load with wrk, compare with the ceiling, report.

For each database (SQLite, and PostgreSQL when asked) and each size (default 1k, 10k and 100k
components at 10 versions each, so 1M versions at the largest), it seeds the hub's database
(:mod:`bench.seed`), starts a live ``hub serve`` on loopback, and loads it with wrk from another
process at fixed concurrency (1 and 32 connections) for a fixed time. The bare-FastAPI ceiling
(same uvicorn setup and worker count, a small JSON) is measured in the same run, before each
size, and every figure is also given as a ratio to it. The resolve and search calls are measured
at every size (growth); the whole list at the largest. Results go to ``bench/results/`` as JSON,
Markdown and a PNG plot (:mod:`bench.report`).

Usage::

    python -m bench.run --quick                      # a few minutes: 1k and 10k, 3 s per figure
    python -m bench.run                              # the full run on SQLite (100k / 1M)
    python -m bench.run --db sqlite,postgres         # both databases
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import sqlalchemy as sa
import yaml
from sqlalchemy.engine import Engine

from bench import harness, report
from bench import seed as seeder
from hub_server.archive import pack
from hub_server.db import is_sqlite, make_engine, migrate
from hub_server.settings import Settings
from hub_server.storage import open_storage

ADMIN_TOKEN = "hub_bench-" + "0123456789abcdef" * 2
DEFAULT_POSTGRES = "postgresql://hub:hub@127.0.0.1:5432/postgres"
RESULTS = Path(__file__).resolve().parent / "results"
API = "/api/v1/components"


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    expect: int
    growth: bool = False


SCENARIOS = [
    Scenario("resolve", "resolve a caret range (^M.m)", 200, growth=True),
    Scenario(
        "resolve_uncached",
        "resolve, past the read cache (Cache-Control: no-cache)",
        200,
        growth=True,
    ),
    Scenario("version", "get one version", 200),
    Scenario("component_yaml", "download component.yaml", 200),
    Scenario("archive", "download an archive (200)", 200),
    Scenario("archive_304", "download an archive (304, If-None-Match)", 304),
    Scenario("search", "search by a word", 200, growth=True),
    Scenario("search_gpu", "search by a word, hardware=gpu", 200, growth=True),
    Scenario(
        "search_uncached",
        "search by a word, past the read cache (Cache-Control: no-cache)",
        200,
        growth=True,
    ),
    Scenario("search_gpu_uncached", "search by a word, hardware=gpu, past the read cache", 200),
    Scenario("page", "catalogue component page", 200),
    Scenario("publish", "publish a version (versions/s)", 201),
]
BY_KEY = {s.key: s for s in SCENARIOS}


@dataclass
class Options:
    dbs: list[str]
    sizes: list[int]
    per_component: float
    duration: float
    warmup: float
    connections: list[int]
    workers: int
    sample: int
    publish_components: int
    publish_rate_cap: int
    postgres_url: str
    postgres_database: str | None
    log_level: str
    out: Path
    work_dir: Path | None
    keep: bool
    scenarios: list[str]
    label: str


def say(line: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {line}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- databases


@contextmanager
def postgres_database(admin_url: str, keep: bool, existing: str | None = None) -> Iterator[str]:
    """A fresh database on the PostgreSQL server of ``admin_url``, dropped afterwards (or
    ``existing``, used as it is and kept)."""
    import psycopg

    base, _, _ = admin_url.rpartition("/")
    if existing:
        yield f"{base}/{existing}"
        return
    name = f"hub_bench_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{base}/{name}"
    finally:
        if keep:
            say(f"kept PostgreSQL database {name}")
        else:
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_facts(engine: Engine, data_dir: Path) -> dict[str, Any]:
    with engine.connect() as conn:
        if is_sqlite(str(engine.url)):
            size = sum(
                p.stat().st_size for p in data_dir.glob("hub.db*") if p.is_file()
            )  # fmt: skip
            version = conn.execute(sa.text("select sqlite_version()")).scalar()
            return {"engine": "sqlite", "version": version, "size_mib": round(size / 2**20)}
        size = conn.execute(sa.text("select pg_database_size(current_database())")).scalar()
        version = conn.execute(sa.text("show server_version")).scalar()
        return {"engine": "postgresql", "version": version, "size_mib": round(int(size) / 2**20)}


# ----------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class Target:
    namespace: str
    name: str
    versions: list[tuple[str, bool, str, str]]
    """(version, yanked, prerelease, digest)."""


def sample_targets(engine: Engine, count: int, rng: random.Random) -> list[Target]:
    """Random synthetic components with all their versions (never the hot few)."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT id, namespace, name FROM components WHERE namespace <> 'library' "
                "ORDER BY random() LIMIT :n"
            ),
            {"n": count},
        ).all()
        ids = [r[0] for r in rows]
        versions: dict[int, list[tuple[str, bool, str, str]]] = {i: [] for i in ids}
        for chunk in range(0, len(ids), 500):
            part = ids[chunk : chunk + 500]
            for cid, version, yanked, prerelease, digest in conn.execute(
                sa.text(
                    "SELECT component_id, version, yanked, prerelease, digest FROM versions "
                    "WHERE component_id IN :ids"
                ).bindparams(sa.bindparam("ids", expanding=True)),
                {"ids": part},
            ):
                versions[cid].append((version, bool(yanked), prerelease, digest))
    targets = [Target(ns, name, versions[cid]) for cid, ns, name in rows if versions[cid]]
    rng.shuffle(targets)
    return targets


def search_words(rng: random.Random) -> list[str]:
    """What people type: tool and data words from names and tags, and README vocabulary."""
    words = {w for pool in seeder.OBJECTS.values() for w in pool if "-" not in w}
    words |= {w for pool in seeder.VERBS.values() for w in pool}
    words |= set(rng.sample(seeder.VOCAB, 60))
    ordered = sorted(words)
    rng.shuffle(ordered)
    return ordered


Request = tuple[str, str, str, dict[str, str]]


def read_requests(key: str, targets: list[Target], words: list[str], rng: random.Random) -> list[
    Request
]:  # fmt: skip
    requests: list[Request] = []
    if key.startswith("search"):
        prefix = f"{API}?hardware=gpu&q=" if "gpu" in key else f"{API}?q="
        headers = {"Cache-Control": "no-cache"} if key.endswith("uncached") else {}
        return [("GET", prefix + quote(w), "-", headers) for w in words]
    for t in targets:
        base = f"{API}/{t.namespace}/{t.name}"
        version, _yanked, _pre, digest = rng.choice(t.versions)
        exact = f"{base}/versions/{quote(version, safe='')}"
        if key in ("resolve", "resolve_uncached"):
            live = [v for v, yanked, pre, _ in t.versions if not yanked and not pre]
            if not live:
                continue
            major, minor = rng.choice(live).split("+")[0].split(".")[:2]
            headers = {"Cache-Control": "no-cache"} if key == "resolve_uncached" else {}
            requests.append(("GET", f"{base}/resolve?spec=%5E{major}.{minor}", "-", headers))
        elif key == "version":
            requests.append(("GET", exact, "-", {}))
        elif key == "component_yaml":
            requests.append(("GET", f"{exact}/component.yaml", "-", {}))
        elif key == "archive":
            requests.append(("GET", f"{exact}/archive", "-", {}))
        elif key == "archive_304":
            requests.append(("GET", f"{exact}/archive", "-", {"If-None-Match": f'"{digest}"'}))
        elif key == "page":
            requests.append(("GET", f"/components/{t.namespace}/{t.name}", "-", {}))
    return requests


def publish_requests(
    engine: Engine,
    targets: list[Target],
    *,
    major: int,
    count: int,
    folder: Path,
) -> list[Request]:
    """``count`` distinct new versions of existing components, as real packages (their latest
    version's hub.yaml, spec and README with a new version number), packed with ``pack`` and
    wrapped in the multipart body ``hub publish`` sends.

    Each spec also gets a comment line naming the new version, so no two publishes carry the
    same spec file: a real new version usually changes its spec (code, image, interface), and
    the hub must read every new spec in full (kfp parses it), never a remembered one."""
    folder.mkdir(parents=True, exist_ok=True)
    sources = []
    with engine.connect() as conn:
        for t in targets:
            row = conn.execute(
                sa.text(
                    "SELECT v.manifest, v.spec_yaml, v.readme FROM versions v "
                    "JOIN components c ON c.id = v.component_id "
                    "WHERE c.namespace = :ns AND c.name = :name "
                    "AND v.version = c.latest_version"
                ),
                {"ns": t.namespace, "name": t.name},
            ).first()
            if row is not None:
                manifest = row[0] if isinstance(row[0], dict) else json.loads(row[0])
                sources.append((t, manifest, row[1], row[2]))
    if not sources:
        raise RuntimeError("no component to publish new versions of")
    boundary = "bench" + secrets.token_hex(8)
    requests: list[Request] = []
    for k in range(count):
        t, manifest, spec, readme = sources[k % len(sources)]
        version = f"{major}.{k // len(sources)}.0"
        package = folder / f"{k}"
        package.mkdir()
        (package / "hub.yaml").write_text(
            yaml.safe_dump({**manifest, "version": version}, sort_keys=False)
        )
        (package / manifest.get("component", "component.yaml")).write_text(
            f"{spec.rstrip()}\n# {t.namespace}/{t.name} {version}\n"
        )
        (package / manifest.get("readme", "README.md")).write_text(readme)
        data = pack(package)
        shutil.rmtree(package)
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="archive"; '
                f'filename="{t.name}-{version}.tar.gz"\r\nContent-Type: application/gzip\r\n\r\n'
            ).encode()
            + data
            + f"\r\n--{boundary}--\r\n".encode()
        )
        body_file = folder / f"{k}.body"
        body_file.write_bytes(body)
        requests.append(
            (
                "POST",
                f"{API}/{t.namespace}/{t.name}/versions",
                str(body_file),
                {
                    "Authorization": f"Bearer {ADMIN_TOKEN}",
                    "Content-Type": f"multipart/form-data; boundary={boundary}",
                },
            )
        )
    return requests


def preflight(base_url: str, requests: list[Request], expect: int) -> str | None:
    """None when the first requests answer as expected, else why not.

    Asked once the machine is idle (the server may still be working off the requests the
    previous figure left queued); a request that takes more than 60 s is a reason too, and the
    call is then reported as not measured rather than ending the run."""
    harness.wait_idle()
    with httpx.Client(base_url=base_url, timeout=60) as client:
        for method, target, _body, headers in requests[:3]:
            try:
                response = client.request(method, target, headers=headers)
            except httpx.TimeoutException:
                return f"{method} {target} did not answer within 60 s"
            if response.status_code != expect:
                return f"{method} {target} answered {response.status_code}, expected {expect}"
    return None


# ----------------------------------------------------------------------------- running


WARM_PASSES = 5
"""Warm-up sends every distinct request at least this many times (and goes on while the rate
climbs: each worker's read cache, SQLite's page cache and the OS's are then warm) ..."""
WARM_MAX_SECONDS = 30.0
"""... but stops after this long (a call that slow is measured as it is)."""


def warm_up(server: harness.Server, requests_file: Path, options: Options) -> None:
    """Load with 32 connections, in steps of ``options.warmup`` then 1 second, until every
    request of ``requests_file`` was sent ``WARM_PASSES`` times and the rate has stopped
    climbing; or for ``WARM_MAX_SECONDS`` at most.

    The figures are of a hub in its steady state, not of its first minutes after a restart.
    A count of requests sent is not enough: each worker keeps its own read cache, a kept-alive
    connection stays with the worker that accepted it, and a worker busy computing misses
    accepts fewer connections, so fast hits on one worker reach any count while the other still
    misses. Each step opens new connections, and while misses remain the rate keeps climbing.
    """
    with requests_file.open() as handle:
        distinct = sum(1 for line in handle if line.strip())
    sent, spent = 0, 0.0
    rates: list[float] = []
    while spent < WARM_MAX_SECONDS and (
        spent < options.warmup or sent < WARM_PASSES * distinct or not _settled(rates)
    ):
        step = 1.0 if rates else max(1.0, options.warmup)
        result = harness.run_wrk(server.base_url, requests_file, connections=32, duration=step)
        sent += result["requests"]
        spent += result["seconds"]
        rates.append(result["rps"])


def _settled(rates: Sequence[float]) -> bool:
    """The last step was no more than 10% faster than the one before, and within 10% of the
    fastest: the caches are as warm as this load makes them."""
    if len(rates) < 3:
        return False
    return rates[-1] <= 1.1 * rates[-2] and rates[-1] >= 0.9 * max(rates)


def measure(
    server: harness.Server,
    requests_file: Path,
    options: Options,
    *,
    warmup: bool = True,
    connections: Sequence[int] | None = None,
) -> list[dict[str, Any]]:
    if warmup and options.warmup > 0:
        warm_up(server, requests_file, options)
    results = []
    for n in connections or options.connections:
        harness.wait_idle()
        before = harness.loadavg()
        result = harness.run_wrk(
            server.base_url, requests_file, connections=n, duration=options.duration
        )
        result.update(connections=n, loadavg_before=before)
        results.append(result)
    return results


def run_size(
    *,
    db: str,
    size: int,
    final: bool,
    engine: Engine,
    data_dir: Path,
    database_url: str | None,
    bare: harness.Server,
    options: Options,
    scratch: Path,
    rng: random.Random,
) -> dict[str, Any]:
    say(f"{db}: {size:,} components — starting hub serve ({options.workers} workers)")
    hub = harness.start_hub(
        data_dir,
        workers=options.workers,
        admin_token=ADMIN_TOKEN,
        database_url=database_url,
        log_level=options.log_level,
        log_dir=scratch,
    )
    record: dict[str, Any] = {"components": size, "scenarios": {}}
    try:
        hub.wait_ready("/readyz")
        ceiling_file = harness.write_requests(
            scratch / "ceiling.tsv", [("GET", "/ping", "-", {})]
        )  # fmt: skip
        say(f"{db}: {size:,}: ceiling (bare FastAPI)")
        record["ceiling"] = measure(bare, ceiling_file, options)
        targets = sample_targets(engine, options.sample, rng)
        words = search_words(rng)
        wanted = [
            s
            for s in SCENARIOS
            if s.key in options.scenarios and (final or s.growth) and s.key != "publish"
        ]
        for scenario in wanted:
            requests = read_requests(scenario.key, targets, words, rng)
            if not requests:
                record["scenarios"][scenario.key] = {"status": "no requests (no data)"}
                continue
            problem = preflight(hub.base_url, requests, scenario.expect)
            if problem:
                status = (
                    "not available (route missing)"
                    if scenario.key == "page" and " 404," in problem
                    else f"skipped: {problem}"
                )
                say(f"{db}: {size:,}: {scenario.title}: {status}")
                record["scenarios"][scenario.key] = {"status": status}
                continue
            file = harness.write_requests(scratch / f"{scenario.key}.tsv", requests)
            say(f"{db}: {size:,}: {scenario.title} ({len(requests)} distinct requests)")
            record["scenarios"][scenario.key] = {
                "status": "ok",
                "distinct_requests": len(requests),
                "results": measure(hub, file, options),
            }
        record["memory"] = hub.memory()
        say(f"{db}: {size:,}: server RSS {record['memory']['total_rss_mib']} MiB")
        if final and "publish" in options.scenarios:
            record["scenarios"]["publish"] = run_publish(engine, hub, targets, options, scratch)
            # Publishing imports kfp (to read the spec) into every worker that took one.
            record["memory_after_publish"] = hub.memory()
    finally:
        hub.stop()
    record["database"] = database_facts(engine, data_dir)
    return record


def run_publish(
    engine: Engine,
    hub: harness.Server,
    targets: list[Target],
    options: Options,
    scratch: Path,
) -> dict[str, Any]:
    pool = targets[: options.publish_components]
    count = max(50, int(options.publish_rate_cap * options.duration))
    results = []
    # A version number no earlier run used, so a kept database can be loaded again.
    serial = (int(time.time()) - 1_700_000_000) * 4
    if options.warmup > 0:
        # The first publish in a worker imports kfp (seconds): not what is measured here.
        warm = max(20, int(options.publish_rate_cap * options.warmup))
        requests = publish_requests(
            engine, pool, major=serial + 3, count=warm, folder=scratch / "publish-warm"
        )
        file = harness.write_requests(scratch / "publish-warm.tsv", requests)
        harness.run_wrk(hub.base_url, file, connections=4, duration=max(1.0, options.warmup))
        shutil.rmtree(scratch / "publish-warm", ignore_errors=True)
    for k, n in enumerate(options.connections):
        say(f"publish: packing {count} new versions of {len(pool)} components")
        requests = publish_requests(
            engine, pool, major=serial + k, count=count, folder=scratch / f"publish-{n}"
        )
        file = harness.write_requests(scratch / f"publish-{n}.tsv", requests)
        say(f"publish: {n} connection(s)")
        [result] = measure(hub, file, options, warmup=False, connections=[n])
        ok = result["requests"] - result["non_2xx_3xx"]
        result["versions_per_s"] = round(ok / result["seconds"], 1) if result["seconds"] else 0
        result["exhausted"] = result["requests"] >= count
        results.append(result)
        shutil.rmtree(scratch / f"publish-{n}", ignore_errors=True)
    return {"status": "ok", "distinct_requests": count, "results": results}


def run_database(db: str, options: Options, root: Path) -> dict[str, Any]:
    data_dir = root / db / "data"
    scratch = root / db / "scratch"
    data_dir.mkdir(parents=True, exist_ok=True)
    scratch.mkdir(parents=True, exist_ok=True)
    rng = random.Random(6)
    database = (
        postgres_database(options.postgres_url, options.keep, options.postgres_database)
        if db == "postgres"
        else _no_database()
    )
    with database as database_url:
        settings = Settings(data_dir=data_dir, database_url=database_url)
        engine = make_engine(settings.resolved_database_url)
        bare = harness.start_bare(scratch, workers=options.workers)
        try:
            migrate(engine)
            bare.wait_ready("/ping")
            storage = open_storage(settings.resolved_storage_url)
            run: dict[str, Any] = {"db": db, "sizes": []}
            for k, size in enumerate(options.sizes):
                say(f"{db}: seeding to {size:,} components")
                stats = seeder.seed(
                    engine,
                    storage,
                    stop=size,
                    per_component=options.per_component,
                    progress=lambda line: say(f"{db}: seed: {line.strip()}"),
                    check=k == 0,
                )
                versions = _count(engine, "versions")
                record = run_size(
                    db=db,
                    size=size,
                    final=k == len(options.sizes) - 1,
                    engine=engine,
                    data_dir=data_dir,
                    database_url=database_url,
                    bare=bare,
                    options=options,
                    scratch=scratch,
                    rng=rng,
                )
                record["seed"] = stats.to_json()
                record["versions"] = versions
                run["sizes"].append(record)
            run["ceiling_memory"] = bare.memory()
            return run
        finally:
            bare.stop()
            engine.dispose()


@contextmanager
def _no_database() -> Iterator[None]:
    yield None


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar() or 0)


# ----------------------------------------------------------------------------- CLI


def parse_args(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="1k and 10k components, 3 s each")
    parser.add_argument("--db", default="sqlite", help="sqlite, postgres or sqlite,postgres")
    parser.add_argument("--sizes", help="components per size, e.g. 1000,10000,100000")
    parser.add_argument("--versions-per-component", type=float, default=10.0)
    parser.add_argument("--duration", type=float, help="seconds per figure (default 15; quick 3)")
    parser.add_argument("--warmup", type=float, help="seconds before each scenario (2; quick 1)")
    parser.add_argument("--connections", default="1,32")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--sample", type=int, default=2000, help="components the load spans")
    parser.add_argument("--publish-components", type=int, default=500)
    parser.add_argument(
        "--publish-rate-cap", type=int, default=400, help="packages prepared per second of load"
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("HUB_BENCH_POSTGRES_URL", DEFAULT_POSTGRES),
        help="a server where the bench may create (and drop) its own database",
    )
    parser.add_argument(
        "--postgres-database",
        help="use (and keep) this database on that server instead of a fresh one: one seeded "
        "by `python -m bench.seed` or kept by --keep, for measuring again without seeding",
    )
    parser.add_argument("--log-level", default="WARNING", help="the hub's HUB_LOG_LEVEL")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--work-dir", type=Path, help="keep data here (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the data and database")
    parser.add_argument(
        "--scenarios", default=",".join(s.key for s in SCENARIOS), help="comma-separated keys"
    )
    parser.add_argument("--label", help="file name label (default: quick or full)")
    args = parser.parse_args(argv)
    quick = args.quick
    sizes = args.sizes or ("1000,10000" if quick else "1000,10000,100000")
    unknown = set(args.scenarios.split(",")) - set(BY_KEY)
    if unknown:
        parser.error(f"unknown scenarios {sorted(unknown)}; known: {sorted(BY_KEY)}")
    dbs = args.db.split(",")
    if set(dbs) - {"sqlite", "postgres"}:
        parser.error("--db takes sqlite, postgres or both")
    return Options(
        dbs=dbs,
        sizes=sorted(int(s) for s in sizes.split(",")),
        per_component=args.versions_per_component,
        duration=args.duration or (3.0 if quick else 15.0),
        warmup=args.warmup if args.warmup is not None else (1.0 if quick else 2.0),
        connections=[int(c) for c in args.connections.split(",")],
        workers=args.workers,
        sample=args.sample,
        publish_components=args.publish_components,
        publish_rate_cap=args.publish_rate_cap,
        postgres_url=args.postgres_url,
        postgres_database=args.postgres_database,
        log_level=args.log_level,
        out=args.out,
        work_dir=args.work_dir,
        keep=args.keep,
        scenarios=args.scenarios.split(","),
        label=args.label or ("quick" if quick else "full"),
    )


def main(argv: Sequence[str] | None = None) -> None:
    options = parse_args(argv)
    harness.require_wrk()
    started = time.monotonic()
    root = options.work_dir or Path(tempfile.mkdtemp(prefix="hub-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "config": {
            k: (str(v) if isinstance(v, Path) else v)
            for k, v in vars(options).items()
            if k not in ("postgres_url",)
        },
        "scenarios": {s.key: s.title for s in SCENARIOS},
        "runs": [],
    }
    postgres_version = None
    if "postgres" in options.dbs:
        postgres_version = _postgres_version(options.postgres_url)
    results["machine"] = harness.machine(postgres_version)
    try:
        for db in options.dbs:
            results["runs"].append(run_database(db, options, root))
    finally:
        if not options.keep and options.work_dir is None:
            shutil.rmtree(root, ignore_errors=True)
        else:
            say(f"kept the data dirs under {root}")
    results["machine"]["loadavg_at_end"] = harness.loadavg()
    results["elapsed_s"] = round(time.monotonic() - started)
    paths = report.write(results, options.out, options.label)
    print(Path(paths["markdown"]).read_text())
    for kind, path in paths.items():
        say(f"{kind}: {path}")


def _postgres_version(url: str) -> str:
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            row = conn.execute("show server_version").fetchone()
    except psycopg.Error as exc:
        raise SystemExit(f"bench: cannot reach PostgreSQL at --postgres-url: {exc}") from None
    return str(row[0]) if row else ""


if __name__ == "__main__":
    main()
