"""FastAPI dependencies as ``Annotated`` aliases: one place that builds services for routes."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from sqlalchemy.engine import Engine
from sqlmodel import Session

from hub_server.db import reads_engine
from hub_server.oci import ImageResolver
from hub_server.services.auth import AuthService, Principal
from hub_server.services.components import ComponentService
from hub_server.services.pulls import PullCounter
from hub_server.settings import Settings
from hub_server.storage import BlobStorage
from hub_server.validator import PackageChecker


class _Turn:
    """An event-loop task waiting in a :class:`FairGate`: woken on its own loop."""

    __slots__ = ("future", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.future: asyncio.Future[None] = loop.create_future()

    def release(self) -> None:
        """Hand this waiter its slot (from any thread)."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            _wake(self.future)
        else:
            self.loop.call_soon_threadsafe(_wake, self.future)


def _held_lock() -> threading.Lock:
    """A thread waiting in a :class:`FairGate`: it blocks on this lock until handed a slot."""
    lock = threading.Lock()
    lock.acquire()
    return lock


_Waiter = TypeVar("_Waiter", threading.Lock, _Turn)


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():  # a waiter cancelled after its slot was handed on passes it on
        future.set_result(None)


class FairGate:
    """At most ``slots`` holders at once, let in strictly in the order they came.

    ``threading.Semaphore`` lets a thread that arrives as a slot frees up take it before the
    threads already waiting (whom ``release`` only wakes): under a steady queue some requests
    lose that race again and again. Here a freed slot is handed to the longest waiter.

    Threads take a slot with ``with gate:``; event-loop tasks with ``async with gate.turn():``,
    in the same queue. A task waits on its loop, holding no thread: a route that takes its turn
    before its trip to the thread pool keeps the pool's threads for work that can run. (With
    every search waiting in a thread, 32 connections kept 30 threads parked in the gate, and
    each handover woke a thread that then queued for the GIL behind the event loop: one
    worker answered 330 uncached searches/s in process against 507-534 with the wait on the
    loop, at 100k components on SQLite.)
    """

    def __init__(self, slots: int) -> None:
        self._lock = threading.Lock()
        self._free = slots
        self._waiting: collections.deque[threading.Lock | _Turn] = collections.deque()

    @property
    def waiting(self) -> int:
        """How many wait for a slot."""
        return len(self._waiting)

    def __enter__(self) -> None:
        turn = self._take_or_queue(_held_lock)
        if turn is not None:
            turn.acquire()  # released by the holder that hands its slot over

    def __exit__(self, *_exc: object) -> None:
        self._hand_over()

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Hold a slot for the ``async with`` block, waiting for it on the event loop."""
        await self._take()
        try:
            yield
        finally:
            self._hand_over()

    async def _take(self) -> None:
        loop = asyncio.get_running_loop()
        waiter = self._take_or_queue(lambda: _Turn(loop))
        if waiter is None:
            return
        try:
            await waiter.future
        except BaseException:  # cancelled while waiting
            with self._lock:
                handed = waiter not in self._waiting
                if not handed:
                    self._waiting.remove(waiter)
            if handed:  # the slot was ours already: the next waiter gets it
                self._hand_over()
            raise

    def _take_or_queue(self, waiter: Callable[[], _Waiter]) -> _Waiter | None:
        """Take a free slot (None) when nobody waits, else queue a new ``waiter()``."""
        with self._lock:
            if self._free and not self._waiting:
                self._free -= 1
                return None
            queued = waiter()
            self._waiting.append(queued)
            return queued

    def _hand_over(self) -> None:
        with self._lock:
            if self._waiting:
                self._waiting.popleft().release()
            else:
                self._free += 1


@dataclass(frozen=True)
class AppState:
    """What one app instance holds: configuration, engine and blob store (no request state)."""

    settings: Settings
    engine: Engine
    storage: BlobStorage
    images: ImageResolver | None
    """None when image pinning is switched off (``HUB_RESOLVE_IMAGES=false``)."""
    pulls: PullCounter
    search_gate: FairGate
    """At most ``HUB_SEARCH_CONCURRENCY`` listings and searches of this worker read the index
    at once; the others wait their turn. On SQLite, search is CPU work in the worker, under
    one GIL: more at once only contend (measured at 100k components, 32 connections, 2
    workers: 116 → 149 searches/s, p99 917 → 850 ms; with a hardware filter 90 → 117/s, p99
    1,179 → 641 ms); on PostgreSQL the statements run in the database's processes, and more
    at once keep both busy (``Settings.search_slots``). They are let in in the order they came
    (:class:`FairGate`): with ``threading.Semaphore`` the p99 of searches past the read cache
    was 363 ms against a p50 of 67 ms; in order, 140 ms against 81 ms (SQLite, same load)."""
    publish_gate: FairGate
    """At most ``HUB_PUBLISH_CONCURRENCY`` publishes of this worker validate or write at once
    (their waits on registries and blob storage are outside it). Without it, 32 concurrent
    publishes meant 16 threads per worker contending for the GIL, and the one holding
    SQLite's write lock got a sixteenth of it."""
    checker: PackageChecker | None = None
    """The worker's package checker process (``HUB_PACKAGE_CHECKER=process``, the default);
    None: publishes validate their package in their own thread."""

    def session(self) -> Session:
        """A new session on the engine: the only way requests open one (a ``with`` closes it)."""
        return Session(self.engine, expire_on_commit=False)

    @functools.cached_property
    def read_engine(self) -> Engine:
        """The engine of :meth:`read_session`: :func:`hub_server.db.reads_engine` of ``engine``."""
        return reads_engine(self.engine)

    def read_session(self) -> Session:
        """A new session for a request that only reads (see :func:`hub_server.db.reads_engine`)."""
        return Session(self.read_engine, expire_on_commit=False)

    def components(self, session: Session, *, holds_search_turn: bool = False) -> ComponentService:
        """The component service of a request, on ``session``.

        ``holds_search_turn``: the caller already holds a turn of ``search_gate`` for as long
        as it uses the service (the API's search route takes it on the event loop), so the
        service's listings take none of their own.
        """
        return ComponentService(
            session,
            self.storage,
            self.settings.archive_limits,
            images=self.images,
            search_gate=None if holds_search_turn else self.search_gate,
            publish_gate=self.publish_gate,
            checker=self.checker,
        )


# The dependencies of every route are async: FastAPI runs sync dependencies in its thread
# pool, which costs more than the short work they do (see bench/README.md).


async def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.hub
    return state


StateDep = Annotated[AppState, Depends(get_state)]


async def get_session(state: StateDep) -> AsyncIterator[Session]:
    with state.session() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


async def get_read_session(state: StateDep) -> AsyncIterator[Session]:
    with state.read_session() as session:
        yield session


ReadSessionDep = Annotated[Session, Depends(get_read_session)]
"""The session of a route that only reads. Such a route must not write: on PostgreSQL each of
its statements commits on its own (autocommit), with no transaction to roll back."""


async def get_components(session: SessionDep, state: StateDep) -> ComponentService:
    return state.components(session)


ComponentsDep = Annotated[ComponentService, Depends(get_components)]


async def get_read_components(session: ReadSessionDep, state: StateDep) -> ComponentService:
    return state.components(session)


ReadComponentsDep = Annotated[ComponentService, Depends(get_read_components)]
"""The component service of a route that only reads (``GET``): on a read session."""


async def get_auth(session: SessionDep) -> AuthService:
    return AuthService(session)


AuthDep = Annotated[AuthService, Depends(get_auth)]


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def get_principal(request: Request, auth: AuthDep) -> Principal:
    return auth.authenticate(_bearer(request))


CurrentUser = Annotated[Principal, Depends(get_principal)]
