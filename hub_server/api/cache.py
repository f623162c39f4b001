"""A per-worker cache of the hot read answers, revalidated on every request.

Every pipeline build asks the same few questions: which version does ``^1.2`` select, what is
in version 1.2.3, give me its ``component.yaml``. The answers change only when the component
changes (a publish, a yank, an un-yank), and every such change bumps ``components.revision`` in
the writing transaction (:meth:`hub_server.services.components.ComponentService._refresh_latest`).

The one other figure in these answers is the download counter (``pulls``), which moves with
every flush of pull counts (:mod:`hub_server.services.pulls`) and always moves the component's
total too. So each worker keeps the bytes of its recent answers to these reads, tagged with the
component's *stamp* (revision, pulls) read *before* the answer was computed, and serves a
request from them after one indexed read of that stamp: equal, the stored answer is still
exactly what the app would answer; different (or the component gone), the request goes to the
app as usual and its answer replaces the entry. The stamp is read before the answer is
computed, so a change that commits in between can only make an entry look older than it is,
never newer: an answer is never served after a change it does not show. Every worker and every
replica reads the same row, so there is nothing to invalidate across processes.

A version's ``component.yaml`` is immutable (versions are never changed or deleted, and the
file holds no counter), so its entries are served without reading anything.

Listings and searches (``GET /api/v1/components?...``) are cached the same way against a
catalogue-wide stamp, ``hub_state.catalog_revision``, which every publish, yank, un-yank and
fork bumps as the last statement of its transaction (one primary-key read per request). Their
answers also show download counts and order by popularity, which every pull-count flush moves;
bumping the catalogue on every flush (each worker flushes every second) would empty the cache
as fast as it fills, so a listing entry is served for at most ``listing_seconds`` (default 60)
after it was computed: what a listing contains is always current, its download counts and
popularity order at most that old, as on the package indexes users know.

Only complete ``200`` answers to plain ``GET`` requests are kept. Conditional requests
(``If-None-Match``) go to the app, which answers them with a 304, and so do requests with
``Cache-Control: no-cache`` (or ``no-store``). These reads are public, so the answers do not
depend on the caller and the key is the path and query string. A hit is answered with the same
status, headers and body the app gave, plus ``x-hub-cache: hit``; hits of ``component.yaml``
count a pull, as the route does. Entries are evicted least recently used beyond ``max_bytes``.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub_server.services.components import API_PREFIX
from hub_server.services.pulls import PullCounter

# The cached routes (hub_server/api/routes.py): resolve, the versions list, one version, and
# one version's component.yaml; not the archive (large bytes, served from blob storage).
_CACHED_PATH = re.compile(
    "^" + re.escape(API_PREFIX) + r"/components/(?P<namespace>[^/]+)/(?P<name>[^/]+)/"
    r"(?:resolve|versions(?:/(?P<version>[^/]+)(?P<yaml>/component\.yaml)?)?)$"
)
_LISTING_PATH = API_PREFIX + "/components"
_STAMP = sa.text(
    "SELECT revision, pulls FROM components WHERE namespace = :namespace AND name = :name"
)
_CATALOG_STAMP = sa.text("SELECT catalog_revision, 0 FROM hub_state WHERE id = 1")
_HIT = (b"x-hub-cache", b"hit")
_IMMUTABLE = (-1, -1)
"""The stamp of answers that never change (component.yaml)."""
MAX_ENTRY_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class _Entry:
    stamp: tuple[int, int]
    """The component's (revision, pulls) read before the answer was computed, or
    ``_IMMUTABLE``."""
    expires: float
    """``time.monotonic()`` after which the entry is not served (listings), else infinity."""
    headers: list[tuple[bytes, bytes]]
    body: bytes
    route: Any
    """The route that answered (the metrics label hits with its template)."""


def _bypass(key: bytes, value: bytes) -> bool:
    """Conditional requests go to the app (it answers 304s), and so do requests that ask for
    an answer computed afresh (``Cache-Control: no-cache`` or ``no-store``)."""
    if key == b"if-none-match":
        return True
    return key == b"cache-control" and (b"no-cache" in value or b"no-store" in value)


class _Query:
    """A statement compiled once for the engine's driver, run straight through its cursor."""

    def __init__(self, statement: sa.TextClause, engine: Engine) -> None:
        compiled = statement.compile(dialect=engine.dialect)
        self.sql = str(compiled)
        self.positional = compiled.positiontup
        """The parameters' order for a positional driver (sqlite3), None for a named one."""

    def params(self, values: dict[str, Any]) -> Any:
        if self.positional is None:
            return values
        return tuple(values[k] for k in self.positional)


_Key = tuple[str, str] | None
"""What a stamp is read for: a component's (namespace, name), or None for the catalogue."""
_BATCH = (
    "SELECT k.i, c.revision, c.pulls"
    " FROM unnest(%(namespaces)s::text[], %(names)s::text[]) WITH ORDINALITY AS k(ns, n, i)"
    " JOIN components AS c ON c.namespace = k.ns AND c.name = k.n"
    " UNION ALL SELECT 0, catalog_revision, 0 FROM hub_state WHERE id = 1 AND %(catalog)s"
)
"""PostgreSQL: the stamps of many components (and the catalogue's, row 0) in one statement,
each a probe of the unique (namespace, name) index."""


class StampReader:
    """Reads components' stamps for the cache on one connection of its own.

    A pooled connection costs more round trips than the read itself on PostgreSQL (the
    pre-ping on checkout, ``BEGIN``, the ``ROLLBACK`` on check-in): four instead of one. This
    keeps one connection per worker outside the pool, in autocommit (each read sees the latest
    commits and no transaction stays open), used only from the event loop. A failed read drops
    the connection (the request goes to the app, which meets the same failure and answers it),
    and the next read opens a fresh one.

    SQLite's read is a call into the library in this process (microseconds): it runs on the
    event loop's thread as it comes. PostgreSQL's is a round trip to another process, during
    which the worker would stand idle, so there the reads are *batched*: a request adds what it
    needs to the pending set and waits; one read at a time is in flight, and when it returns,
    everything that arrived meanwhile goes in the next one, as a single statement. Every read
    a request gets was sent after the request asked, so it sees every change committed before
    the request arrived (the cache's guarantee); under load a worker makes one round trip for
    many requests instead of one each.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.connection: Any = None
        """SQLite: the driver's connection; PostgreSQL: a ``psycopg.AsyncConnection``."""
        self.batched = engine.dialect.name == "postgresql"
        self._component = _Query(_STAMP, engine)
        self._catalog = _Query(_CATALOG_STAMP, engine)
        self._pending: dict[_Key, list[asyncio.Future[tuple[int, int] | None]]] = {}
        self._drainer: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.round_trips = 0
        """Batched reads sent (PostgreSQL), for tests and curiosity."""

    async def read(self, namespace: str, name: str) -> tuple[int, int] | None:
        """The component's (revision, pulls); None when it does not exist or the read fails."""
        if self.batched:
            return await self._batched((namespace, name))
        return self._fetch(self._component, {"namespace": namespace, "name": name})

    async def catalog(self) -> tuple[int, int] | None:
        """The catalogue's stamp, ``(catalog_revision, 0)``; None when the read fails."""
        if self.batched:
            return await self._batched(None)
        return self._fetch(self._catalog, {})

    def _fetch(self, query: _Query, values: dict[str, Any]) -> tuple[int, int] | None:
        sql, params = query.sql, query.params(values)
        try:
            if self.connection is None:
                self.connection = self._connect()
            cursor = self.connection.cursor()
            try:
                cursor.execute(sql, params)
                row = cursor.fetchone()
            finally:
                cursor.close()
        except Exception:  # any driver error: start over on a fresh connection next time
            self.close()
            return None
        return None if row is None else (int(row[0]), int(row[1]))

    def _connect(self) -> Any:
        connection = self.engine.raw_connection()  # runs the engine's connect hooks (pragmas)
        connection.rollback()
        driver: Any = connection.driver_connection
        connection.detach()  # ours now: closing it closes it, the pool forgets it
        driver.isolation_level = None  # autocommit: no implicit transactions
        return connection

    # ------------------------------------------------------------------ PostgreSQL, batched

    async def _batched(self, key: _Key) -> tuple[int, int] | None:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[tuple[int, int] | None] = loop.create_future()
        self._pending.setdefault(key, []).append(waiter)
        if self._drainer is None or self._drainer.done():
            self._drainer = loop.create_task(self._drain())
        return await waiter

    async def _drain(self) -> None:
        """Send the pending reads, one batch at a time, until none are left."""
        batch: dict[_Key, list[asyncio.Future[tuple[int, int] | None]]] = {}
        try:
            while self._pending:
                batch, self._pending = self._pending, {}
                _answer(batch, await self._fetch_many(list(batch)))
                batch = {}
        finally:
            # Cancelled (the worker stopping): nobody is left waiting for ever.
            _answer(batch, None)
            _answer(self._pending, None)
            self._pending = {}

    async def _fetch_many(self, keys: list[_Key]) -> dict[_Key, tuple[int, int]] | None:
        components = [key for key in keys if key is not None]
        values = {
            "namespaces": [namespace for namespace, _ in components],
            "names": [name for _, name in components],
            "catalog": len(components) < len(keys),
        }
        try:
            connection = await self._async_connection()
            self.round_trips += 1
            cursor = await connection.execute(_BATCH, values)
            rows = await cursor.fetchall()
        except Exception:  # any driver error: start over on a fresh connection next time
            self._drop()
            return None
        return {
            (components[index - 1] if index else None): (int(revision), int(pulls))
            for index, revision, pulls in rows
        }

    async def _async_connection(self) -> Any:
        loop = asyncio.get_running_loop()
        if self.connection is not None and self._loop is not loop:
            self._drop()  # opened under another event loop (tests start one per client)
        if self.connection is None:
            import psycopg

            url = self.engine.url.set(drivername="postgresql")
            self.connection = await psycopg.AsyncConnection.connect(
                url.render_as_string(hide_password=False), autocommit=True
            )
            self._loop = loop
        return self.connection

    def _drop(self) -> None:
        """Forget the connection, closing its socket without a round trip."""
        connection, self.connection = self.connection, None
        if connection is not None:
            _finish(connection)

    async def aclose(self) -> None:
        """Close the connection (the app's shutdown)."""
        if self._drainer is not None and not self._drainer.done():
            self._drainer.cancel()
            with contextlib.suppress(BaseException):
                await self._drainer
        if not self.batched or self.connection is None:
            self.close()
            return
        connection, self.connection = self.connection, None
        try:
            await connection.close()
        except Exception:  # the connection was broken: its socket is closed either way
            _finish(connection)

    def close(self) -> None:
        """Close the connection from outside the event loop (SQLite's, or dropping
        PostgreSQL's)."""
        if self.batched:
            self._drop()
            return
        if self.connection is not None:
            with contextlib.suppress(Exception):
                self.connection.close()
            self.connection = None


def _answer(
    batch: dict[_Key, list[asyncio.Future[tuple[int, int] | None]]],
    found: dict[_Key, tuple[int, int]] | None,
) -> None:
    """Give each waiting request its stamp (None: missing, or the read failed)."""
    for key, waiters in batch.items():
        stamp = None if found is None else found.get(key)
        for waiter in waiters:
            if not waiter.done():  # its request may have been cancelled
                waiter.set_result(stamp)


def _finish(connection: Any) -> None:
    """Close a psycopg connection's socket at once, without a round trip."""
    with contextlib.suppress(Exception):
        connection.pgconn.finish()


class ReadCacheMiddleware:
    """Serve repeated hot reads from this worker's memory (see the module docstring).

    Args:
        app: the rest of the stack.
        stamps: reads the components' stamps.
        pulls: the worker's pull counter (hits of component.yaml count a download).
        max_bytes: the bodies kept, in bytes, at most; 0 switches the cache off.
        listing_seconds: how long a listing or search answer may be served (its download
            counts are at most this old); 0 keeps none.
    """

    def __init__(
        self,
        app: ASGIApp,
        stamps: StampReader,
        pulls: PullCounter,
        max_bytes: int,
        listing_seconds: float = 60.0,
    ) -> None:
        self.app = app
        self.stamps = stamps
        self.pulls = pulls
        self.max_bytes = max_bytes
        self.listing_seconds = listing_seconds
        self.size = 0
        self.entries: OrderedDict[tuple[str, bytes], _Entry] = OrderedDict()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or self.max_bytes <= 0:
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        listing = path == _LISTING_PATH
        match = None if listing else _CACHED_PATH.match(path)
        if (match is None and not (listing and self.listing_seconds > 0)) or any(
            _bypass(key, value) for key, value in scope["headers"]
        ):
            await self.app(scope, receive, send)
            return
        key = (path, scope["query_string"])
        if match is None:
            stamp = await self.stamps.catalog()
        elif match["yaml"]:
            stamp = _IMMUTABLE
        else:
            stamp = await self.stamps.read(match["namespace"], match["name"])
        if stamp is None:
            await self.app(scope, receive, send)
            return
        entry = self.entries.get(key)
        if entry is not None and entry.stamp == stamp and time.monotonic() < entry.expires:
            self.entries.move_to_end(key)
            scope["route"] = entry.route
            if match is not None and match["yaml"]:
                self.pulls.add(match["namespace"], match["name"], match["version"])
            await send({"type": "http.response.start", "status": 200, "headers": entry.headers})
            await send({"type": "http.response.body", "body": entry.body})
            return
        expires = time.monotonic() + self.listing_seconds if listing else math.inf
        await self._fill(key, stamp, expires, scope, receive, send)

    async def _fill(
        self,
        key: tuple[str, bytes],
        stamp: tuple[int, int],
        expires: float,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        """Let the app answer, and keep the answer when it is a complete 200."""
        status = 0
        headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []
        size = 0

        async def capture(message: Message) -> None:
            nonlocal status, headers, size
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
            elif message["type"] == "http.response.body" and status == 200:
                body = message.get("body", b"")
                size += len(body)
                if size <= MAX_ENTRY_BYTES:
                    chunks.append(body)
            await send(message)

        await self.app(scope, receive, capture)
        if status != 200 or size > MAX_ENTRY_BYTES:
            return
        self._store(
            key,
            _Entry(
                stamp=stamp,
                expires=expires,
                headers=[*headers, _HIT],
                body=b"".join(chunks),
                route=scope.get("route"),
            ),
        )

    def _store(self, key: tuple[str, bytes], entry: _Entry) -> None:
        old = self.entries.pop(key, None)
        if old is not None:
            self.size -= len(old.body)
        self.entries[key] = entry
        self.size += len(entry.body)
        while self.size > self.max_bytes and self.entries:
            _, evicted = self.entries.popitem(last=False)
            self.size -= len(evicted.body)
