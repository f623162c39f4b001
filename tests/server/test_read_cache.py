"""The per-worker read cache (hub_server/api/cache.py): hits answer exactly what the app would,
and no change (publish, yank, un-yank, downloads) is ever hidden by it, also across workers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from hub_server.app import create_app
from hub_server.settings import Settings
from tests.factories import pack_package

Publish = Callable[..., httpx.Response]
BASE = "/api/v1/components/alice/train"
RESOLVE = BASE + "/resolve?spec=^1"
VERSION = BASE + "/versions/1.0.0"
YAML = VERSION + "/component.yaml"
HOT = [RESOLVE, BASE + "/versions", VERSION, YAML]
LISTINGS = [
    "/api/v1/components",
    "/api/v1/components?q=train",
    "/api/v1/components?q=train&hardware=cpu&per_page=5",
    "/api/v1/components?sort=pulls",
]


@pytest.fixture
def worker(settings: Settings) -> Iterator[TestClient]:
    """A second worker: its own app and cache over the same database."""
    app = create_app(settings)
    with TestClient(app) as hub:
        yield hub
    app.state.hub.engine.dispose()


@pytest.fixture
def statements(app: Any) -> Iterator[list[str]]:
    """What the app's engine does: each SQL statement run through SQLAlchemy, and "checkout"
    for each connection taken from the pool (the cache's own read goes straight through the
    driver on one)."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(args[2])

    def checkout(*_args: Any) -> None:
        seen.append("checkout")

    engine = app.state.hub.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    sa.event.listen(engine.pool, "checkout", checkout)
    yield seen
    sa.event.remove(engine, "before_cursor_execute", record)
    sa.event.remove(engine.pool, "checkout", checkout)


def _without_volatile(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k not in {"x-request-id", "x-hub-cache"}}


@pytest.mark.parametrize("path", HOT + LISTINGS)
def test_a_hit_answers_the_same_bytes_and_headers_with_one_indexed_read(
    app: Any,
    monkeypatch: pytest.MonkeyPatch,
    client: TestClient,
    alice: dict[str, str],
    publish: Publish,
    statements: list[str],
    path: str,
) -> None:
    assert publish("alice", alice).status_code == 201
    first = client.get(path)
    assert first.status_code == 200
    assert "x-hub-cache" not in first.headers
    stamps = _read_cache(app).stamps
    reads: list[Any] = []
    read, catalog = stamps.read, stamps.catalog
    monkeypatch.setattr(stamps, "read", lambda *ref: reads.append(ref) or read(*ref))
    monkeypatch.setattr(stamps, "catalog", lambda: reads.append("catalog") or catalog())
    statements.clear()
    second = client.get(path)
    assert second.headers["x-hub-cache"] == "hit"
    assert second.content == first.content
    assert _without_volatile(second) == _without_volatile(first)
    # The hit read the component's stamp (a listing: the catalogue's) on the cache's own
    # connection and ran nothing else: no route, no service, no pooled connection. An immutable
    # component.yaml does not even read a stamp (its one write is the pull count).
    if path == YAML:
        assert reads == []
        assert all(s == "checkout" or s.lstrip().startswith("UPDATE") for s in statements)
    else:
        assert reads == (["catalog"] if path in LISTINGS else [("alice", "train")])
        assert statements == []


def test_publishing_and_yanking_on_another_worker_is_seen_at_once(
    client: TestClient, worker: TestClient, alice: dict[str, str], publish: Publish
) -> None:
    assert publish("alice", alice).status_code == 201
    assert client.get(RESOLVE).json()["version"] == "1.0.0"
    assert client.get(RESOLVE).headers["x-hub-cache"] == "hit"

    assert publish("alice", alice, version="1.1.0").status_code == 201
    assert client.get(RESOLVE).json()["version"] == "1.1.0"
    versions = [v["version"] for v in client.get(BASE + "/versions").json()]
    assert versions == ["1.1.0", "1.0.0"]

    yank = worker.post(BASE + "/versions/1.1.0/yank", json={"reason": "broken"}, headers=alice)
    assert yank.status_code == 200
    assert client.get(RESOLVE).json()["version"] == "1.0.0"
    assert client.get(BASE + "/versions/1.1.0").json()["yanked"] is True

    assert worker.delete(BASE + "/versions/1.1.0/yank", headers=alice).status_code == 200
    assert client.get(RESOLVE).json()["version"] == "1.1.0"
    assert client.get(BASE + "/versions/1.1.0").json()["yanked"] is False


def test_download_counts_in_cached_answers_are_current(
    client: TestClient, worker: TestClient, alice: dict[str, str], publish: Publish
) -> None:
    assert publish("alice", alice).status_code == 201
    assert client.get(VERSION).json()["pulls"] == 0
    assert client.get(VERSION).headers["x-hub-cache"] == "hit"
    assert worker.get(YAML).status_code == 200
    assert worker.get(YAML).headers["x-hub-cache"] == "hit"
    assert client.get(VERSION).json()["pulls"] == 2, "a hit of component.yaml counts a pull"
    assert client.get(RESOLVE).json()["pulls"] == 2


def test_misses_errors_and_conditional_requests_go_to_the_app(
    client: TestClient, alice: dict[str, str], publish: Publish
) -> None:
    for _ in range(2):
        missing = client.get("/api/v1/components/alice/nope/resolve?spec=^1")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "component_not_found"
        assert "x-hub-cache" not in missing.headers
    assert publish("alice", alice).status_code == 201
    for _ in range(2):
        unmatched = client.get(BASE + "/resolve?spec=^9")
        assert unmatched.status_code == 404
        assert "x-hub-cache" not in unmatched.headers
    client.get(RESOLVE)
    for value in ("no-cache", "no-store", "max-age=0, no-cache"):
        fresh = client.get(RESOLVE, headers={"Cache-Control": value})
        assert fresh.status_code == 200
        assert "x-hub-cache" not in fresh.headers
    etag = client.get(YAML).headers["etag"]
    for _ in range(2):
        conditional = client.get(YAML, headers={"If-None-Match": etag})
        assert conditional.status_code == 304
        assert "x-hub-cache" not in conditional.headers


def test_hits_are_counted_under_their_route_template(
    client: TestClient, alice: dict[str, str], publish: Publish
) -> None:
    assert publish("alice", alice).status_code == 201
    for _ in range(3):
        client.get(RESOLVE)
    metrics = client.get("/metrics").text
    line = next(
        line
        for line in metrics.splitlines()
        if line.startswith("hub_http_requests_total")
        and 'route="/api/v1/components/{namespace}/{name}/resolve"' in line
        and 'status="200"' in line
    )
    assert line.endswith(" 3.0")


def test_the_cache_stays_within_its_memory_bound(
    settings: Settings, client: TestClient, alice: dict[str, str], publish: Publish
) -> None:
    for minor in range(4):
        assert publish("alice", alice, version=f"1.{minor}.0").status_code == 201
    app = create_app(settings.model_copy(update={"read_cache_mb": 0}))
    try:
        with TestClient(app) as hub:
            hub.get(RESOLVE)
            assert "x-hub-cache" not in hub.get(RESOLVE).headers, "0 switches it off"
    finally:
        app.state.hub.engine.dispose()
    cache = _read_cache(client.app)
    body = len(client.get(BASE + "/versions/1.0.0").content)
    cache.max_bytes = int(body * 2.5)
    for minor in range(4):
        client.get(BASE + f"/versions/1.{minor}.0")
        assert cache.size <= cache.max_bytes
    assert len(cache.entries) == 2
    # The two most recently used stay.
    assert client.get(BASE + "/versions/1.3.0").headers["x-hub-cache"] == "hit"
    assert "x-hub-cache" not in client.get(BASE + "/versions/1.0.0").headers


def _read_cache(app: Any) -> Any:
    from hub_server.api.cache import ReadCacheMiddleware

    layer = app.middleware_stack
    while layer is not None and not isinstance(layer, ReadCacheMiddleware):
        layer = getattr(layer, "app", None)
    assert layer is not None
    return layer


def test_a_broken_stamp_connection_costs_one_miss_and_is_replaced(
    app: Any, client: TestClient, alice: dict[str, str], publish: Publish
) -> None:
    assert publish("alice", alice).status_code == 201
    client.get(RESOLVE)
    assert client.get(RESOLVE).headers["x-hub-cache"] == "hit"
    stamps = _read_cache(app).stamps
    broken = stamps.connection
    # As if the database had dropped it (PostgreSQL's is asynchronous: close its socket).
    broken.pgconn.finish() if stamps.batched else broken.close()
    answer = client.get(RESOLVE)
    assert answer.status_code == 200, "the app answers while the cache cannot check"
    assert "x-hub-cache" not in answer.headers
    assert stamps.connection is None
    assert client.get(RESOLVE).headers["x-hub-cache"] == "hit"
    assert stamps.connection is not broken


# ------------------------------------------------------------------ listings and searches


def _names(response: httpx.Response) -> list[str]:
    return [f"{c['namespace']}/{c['name']}" for c in response.json()["items"]]


def test_publish_yank_and_fork_on_another_worker_show_in_cached_listings_at_once(
    tmp_path: Path,
    client: TestClient,
    worker: TestClient,
    alice: dict[str, str],
    bob: dict[str, str],
    publish: Publish,
) -> None:
    search = "/api/v1/components?q=train"
    assert publish("alice", alice).status_code == 201
    assert _names(client.get(search)) == ["alice/train"]
    assert client.get(search).headers["x-hub-cache"] == "hit"

    # Publishing through the other worker: a new component, then a new version.
    upload = worker.post(
        "/api/v1/components/alice/train-more/versions",
        files={
            "archive": (
                "p.tar.gz",
                pack_package(tmp_path / "more", name="train-more"),
                "application/gzip",
            )
        },
        headers=alice,
    )
    assert upload.status_code == 201, upload.text
    assert sorted(_names(client.get(search))) == ["alice/train", "alice/train-more"]
    assert publish("alice", alice, version="1.1.0").status_code == 201
    latest = {c["name"]: c["latest_version"] for c in client.get(search).json()["items"]}
    assert latest["train"] == "1.1.0"

    yank = worker.post(BASE + "/versions/1.1.0/yank", json={"reason": "broken"}, headers=alice)
    assert yank.status_code == 200
    latest = {c["name"]: c["latest_version"] for c in client.get(search).json()["items"]}
    assert latest["train"] == "1.0.0"

    fork = worker.post(BASE + "/fork", json={"namespace": "bob"}, headers=bob)
    assert fork.status_code == 201, fork.text
    assert "bob/train" in _names(client.get(search))
    forks = {
        f"{c['namespace']}/{c['name']}": c["forks_count"]
        for c in client.get(search).json()["items"]
    }
    assert forks["alice/train"] == 1


def test_download_counts_in_cached_listings_are_at_most_listing_seconds_old(
    monkeypatch: pytest.MonkeyPatch,
    app: Any,
    client: TestClient,
    alice: dict[str, str],
    publish: Publish,
) -> None:
    import hub_server.api.cache as cache_module

    now = [1000.0]
    monkeypatch.setattr(cache_module.time, "monotonic", lambda: now[0])
    assert publish("alice", alice).status_code == 201
    listing = "/api/v1/components?sort=pulls"
    assert client.get(listing).json()["items"][0]["pulls"] == 0
    assert client.get(YAML).status_code == 200  # one download, written at once in tests

    now[0] += _read_cache(app).listing_seconds - 1
    still = client.get(listing)
    assert still.headers["x-hub-cache"] == "hit"
    assert still.json()["items"][0]["pulls"] == 0, "within listing_seconds: the cached count"

    now[0] += 2
    fresh = client.get(listing)
    assert "x-hub-cache" not in fresh.headers
    assert fresh.json()["items"][0]["pulls"] == 1
    assert client.get(listing).headers["x-hub-cache"] == "hit"


def test_listings_bypass_errors_and_switching_listing_caching_off(
    settings: Settings, client: TestClient, alice: dict[str, str], publish: Publish
) -> None:
    assert publish("alice", alice).status_code == 201
    client.get("/api/v1/components?q=train")
    fresh = client.get("/api/v1/components?q=train", headers={"Cache-Control": "no-cache"})
    assert fresh.status_code == 200
    assert "x-hub-cache" not in fresh.headers
    for _ in range(2):
        bad = client.get("/api/v1/components?category=nope")
        assert bad.status_code == 400
        assert "x-hub-cache" not in bad.headers
    # Other query strings are other entries.
    assert "x-hub-cache" not in client.get("/api/v1/components?q=train&page=2").headers

    app = create_app(settings.model_copy(update={"listing_cache_seconds": 0}))
    try:
        with TestClient(app) as hub:
            hub.get("/api/v1/components?q=train")
            assert "x-hub-cache" not in hub.get("/api/v1/components?q=train").headers
            hub.get(RESOLVE)
            assert hub.get(RESOLVE).headers["x-hub-cache"] == "hit", "the rest still caches"
    finally:
        app.state.hub.engine.dispose()


# ------------------------------------------------------------------ PostgreSQL: batched stamps

postgres_only = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


def _bump(engine: sa.Engine, name: str) -> None:
    """A change to a component committed by another writer (as a publish bumps it)."""
    with engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE components SET revision = revision + 1 WHERE name = :name"),
            {"name": name},
        )


@postgres_only
def test_concurrent_stamp_reads_share_round_trips_and_each_gets_its_own_stamp(
    app: Any, client: TestClient, alice: dict[str, str], publish: Publish
) -> None:
    names = [f"step-{i}" for i in range(12)]
    for name in names:
        assert publish("alice", alice, name=name).status_code == 201
    stamps = _read_cache(app).stamps
    engine = app.state.hub.engine
    _bump(engine, "step-3")
    _bump(engine, "step-3")
    with engine.connect() as connection:
        expected = {
            name: (revision, pulls)
            for name, revision, pulls in connection.execute(
                sa.text("SELECT name, revision, pulls FROM components")
            )
        }
        catalog = connection.execute(sa.text("SELECT catalog_revision FROM hub_state")).scalar()

    async def many() -> list[Any]:
        reads = [stamps.read("alice", name) for name in names for _ in range(3)]
        return await asyncio.gather(
            *reads, stamps.read("alice", "missing"), stamps.catalog(), stamps.catalog()
        )

    before = stamps.round_trips
    found = client.portal.call(many)  # type: ignore[union-attr]
    assert found[: 3 * len(names)] == [expected[name] for name in names for _ in range(3)]
    assert found[-3:] == [None, (catalog, 0), (catalog, 0)]
    # 39 reads asked before any was sent: one statement answers them all.
    assert stamps.round_trips - before == 1


@postgres_only
def test_a_stamp_read_never_answers_a_request_that_asked_after_it_was_sent(
    app: Any, client: TestClient, alice: dict[str, str], publish: Publish
) -> None:
    """A request must see every change committed before it arrived: joining a read already
    in flight (sent before the change) would hide it. It waits for the next read instead."""
    assert publish("alice", alice).status_code == 201
    stamps = _read_cache(app).stamps
    engine = app.state.hub.engine
    fetch_many = stamps._fetch_many
    sent: list[list[Any]] = []

    async def scenario() -> tuple[Any, Any]:
        hold = asyncio.Event()

        async def held_fetch(keys: list[Any]) -> Any:
            found = await fetch_many(keys)  # read now, answer when released
            sent.append(keys)
            if len(sent) == 1:
                await hold.wait()
            return found

        stamps._fetch_many = held_fetch
        try:
            first = asyncio.ensure_future(stamps.read("alice", "train"))
            while not sent:
                await asyncio.sleep(0)
            await asyncio.to_thread(_bump, engine, "train")  # committed after the first read
            second = asyncio.ensure_future(stamps.read("alice", "train"))
            await asyncio.sleep(0.05)
            assert not second.done()
            hold.set()
            return await first, await second
        finally:
            stamps._fetch_many = fetch_many

    before, after = client.portal.call(scenario)  # type: ignore[union-attr]
    assert sent == [[("alice", "train")], [("alice", "train")]]
    assert after[0] == before[0] + 1


@postgres_only
def test_hits_under_concurrency_stay_exact_on_postgresql(
    app: Any, client: TestClient, worker: TestClient, alice: dict[str, str], publish: Publish
) -> None:
    """Many requests at once through the middleware, between changes made by another worker:
    every answer is the app's answer for the state at the time."""
    assert publish("alice", alice).status_code == 201
    assert publish("alice", alice, version="1.1.0").status_code == 201

    async def burst() -> list[Any]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as http:
            answers = await asyncio.gather(*(http.get(RESOLVE) for _ in range(40)))
        return [(a.status_code, a.json()["version"], a.headers.get("x-hub-cache")) for a in answers]

    first = client.portal.call(burst)  # type: ignore[union-attr]
    assert {(status, version) for status, version, _ in first} == {(200, "1.1.0")}
    assert any(hit == "hit" for *_, hit in client.portal.call(burst))  # type: ignore[union-attr]
    yank = worker.post(BASE + "/versions/1.1.0/yank", json={"reason": "broken"}, headers=alice)
    assert yank.status_code == 200
    assert {(s, v) for s, v, _ in client.portal.call(burst)} == {(200, "1.0.0")}  # type: ignore[union-attr]


@postgres_only
def test_a_failed_batched_read_answers_every_waiting_request_and_reconnects(
    app: Any, client: TestClient, alice: dict[str, str], publish: Publish
) -> None:
    """The database drops the cache's connection while a read is out: that read's requests
    get "no stamp" (they go to the app), and those that asked meanwhile get the next read, on
    a new connection. None is left waiting."""
    assert publish("alice", alice).status_code == 201
    stamps = _read_cache(app).stamps
    engine = app.state.hub.engine
    stamp = client.portal.call(stamps.read, "alice", "train")  # type: ignore[union-attr]
    assert stamp is not None
    broken = stamps.connection
    blocker = engine.connect()
    blocker.execute(sa.text("LOCK TABLE components IN ACCESS EXCLUSIVE MODE"))

    def drop_the_connection() -> None:
        with engine.begin() as connection:
            connection.execute(
                sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": broken.info.backend_pid}
            )
        blocker.rollback()  # the next read may go through

    async def scenario() -> tuple[Any, list[Any]]:
        first = asyncio.ensure_future(stamps.read("alice", "train"))
        await asyncio.sleep(0.2)  # sent, and waiting for the lock
        assert not first.done()
        later = asyncio.gather(*(stamps.read("alice", "train") for _ in range(4)))
        await asyncio.sleep(0)
        await asyncio.to_thread(drop_the_connection)
        return await asyncio.wait_for(asyncio.gather(first, later), timeout=10)

    before = stamps.round_trips
    try:
        first, later = client.portal.call(scenario)  # type: ignore[union-attr]
    finally:
        blocker.close()
    assert first is None
    assert later == [stamp] * 4
    assert stamps.round_trips - before == 2  # the failed read, then one for the four
    assert stamps.connection is not broken
