"""HUB_SEARCH_CONCURRENCY: a worker runs at most that many listings and searches at once."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from hub_server.app import create_app
from hub_server.deps import FairGate
from hub_server.services import search
from hub_server.services.components import ComponentService
from hub_server.settings import Settings
from tests.concurrency import MostAtOnce, threads_held_while_queued

Publish = Callable[..., httpx.Response]


@pytest.mark.parametrize("slots", [1, 2, 6])
def test_searches_beyond_the_limit_wait_their_turn(
    settings: Settings,
    client: TestClient,
    alice: dict[str, str],
    publish: Publish,
    monkeypatch: pytest.MonkeyPatch,
    slots: int,
) -> None:
    assert publish("alice", alice).status_code == 201
    counted = MostAtOnce(search.rank)
    monkeypatch.setattr(search, "rank", counted)
    app = create_app(settings.model_copy(update={"search_concurrency": slots}))
    try:
        with TestClient(app) as hub, ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(lambda _: hub.get("/api/v1/components?q=train"), range(6)))
    finally:
        app.state.hub.engine.dispose()
    assert [a.status_code for a in answers] == [200] * 6
    assert all(a.json()["items"][0]["name"] == "train" for a in answers)
    assert counted.most == slots


def test_a_listing_gives_its_connection_back_before_it_leaves_the_gate(
    app: Any, client: TestClient, alice: dict[str, str], publish: Publish
) -> None:
    """A listing keeps no connection past the gate: else requests whose answers wait for a
    thread of the pool hold every connection while the gate's holders wait for one."""
    assert publish("alice", alice).status_code == 201
    state = app.state.hub
    with Session(state.engine, expire_on_commit=False) as session:
        service = ComponentService(
            session, state.storage, state.settings.archive_limits, search_gate=state.search_gate
        )
        for query in ({"q": "train"}, {"sort": "name"}):
            page = service.list_components(**query)
            assert [c.name for c in page.items] == ["train"]
            assert not session.in_transaction(), query


def test_a_freed_slot_goes_to_the_longest_waiter() -> None:
    """A holder that leaves and comes straight back queues behind those already waiting
    (``threading.Semaphore`` lets it take the slot again: under a steady queue, some
    requests lost that race for seconds)."""
    gate = FairGate(1)
    entered: list[str] = []

    def take_turn(name: str) -> None:
        with gate:
            entered.append(name)

    gate.__enter__()
    waiters = []
    for name in ("first", "second", "third"):
        waiter = threading.Thread(target=take_turn, args=(name,))
        waiter.start()
        waiters.append(waiter)
        deadline = time.monotonic() + 10
        while gate.waiting < len(waiters):  # in the queue before the next one comes
            assert time.monotonic() < deadline, "a waiter never queued"
            time.sleep(0.001)
    gate.__exit__(None, None, None)
    take_turn("holder, back at once")
    for waiter in waiters:
        waiter.join(timeout=10)

    assert entered == ["first", "second", "third", "holder, back at once"]


def test_a_search_waiting_for_its_turn_holds_no_thread_of_the_pool(
    app: Any, client: TestClient, alice: dict[str, str], publish: Publish
) -> None:
    """The API's search waits for its turn on the event loop: with the waits in threads, 32
    connections kept 30 of the pool's threads parked in the gate, each woken in turn only to
    queue for the GIL behind the event loop."""
    assert publish("alice", alice).status_code == 201
    gate: FairGate = app.state.hub.search_gate
    slots = app.state.hub.settings.search_slots(app.state.hub.engine.dialect.name)

    statuses, taken = threads_held_while_queued(
        app,
        gate,
        slots,
        lambda hub: hub.get("/api/v1/components", params={"q": "train"}),
        count=4,
    )
    assert statuses == [200] * 4
    assert taken == 0


def test_threads_and_tasks_wait_in_one_queue_in_the_order_they_came() -> None:
    gate = FairGate(1)
    entered: list[str] = []

    def thread_turn(name: str) -> None:
        with gate:
            entered.append(name)

    async def scenario() -> None:
        async def task_turn(name: str) -> None:
            async with gate.turn():
                entered.append(name)
                await asyncio.sleep(0)

        async def queued(count: int) -> None:
            deadline = time.monotonic() + 10
            while gate.waiting < count:
                assert time.monotonic() < deadline, "a waiter never queued"
                await asyncio.sleep(0.001)

        gate.__enter__()
        first = asyncio.ensure_future(task_turn("task 1"))
        await queued(1)
        thread = threading.Thread(target=thread_turn, args=("thread",))
        thread.start()
        await queued(2)
        second = asyncio.ensure_future(task_turn("task 2"))
        await queued(3)
        gate.__exit__(None, None, None)
        await asyncio.gather(first, second)
        await asyncio.to_thread(thread.join, 10)

    asyncio.run(scenario())
    assert entered == ["task 1", "thread", "task 2"]
    assert gate.waiting == 0


def test_a_cancelled_waiter_leaves_the_queue_or_passes_on_the_turn_it_was_handed() -> None:
    gate = FairGate(1)

    async def scenario() -> list[str]:
        entered: list[str] = []

        async def task_turn(name: str) -> None:
            async with gate.turn():
                entered.append(name)

        async with gate.turn():
            leaving = asyncio.ensure_future(task_turn("cancelled while waiting"))
            handed = asyncio.ensure_future(task_turn("cancelled as its turn came"))
            last = asyncio.ensure_future(task_turn("last"))
            while gate.waiting < 3:
                await asyncio.sleep(0)
            leaving.cancel()
            await asyncio.gather(leaving, return_exceptions=True)
            assert gate.waiting == 2
        # The holder has handed its slot to the next waiter; that waiter is cancelled before it
        # runs, and must hand the slot on rather than keep it.
        handed.cancel()
        await asyncio.wait_for(asyncio.gather(handed, last, return_exceptions=True), 10)
        async with asyncio.timeout(10):
            async with gate.turn():  # the slot is free again
                entered.append("after")
        return entered

    assert asyncio.run(scenario()) == ["last", "after"]
    assert gate.waiting == 0


def test_search_slots_default_by_database(tmp_path: Path) -> None:
    """SQLite's statements run in the worker's threads, PostgreSQL's in its own processes."""
    assert Settings(data_dir=tmp_path).search_slots("sqlite") == 2
    assert Settings(data_dir=tmp_path).search_slots("postgresql") == 8
    chosen = Settings(data_dir=tmp_path, search_concurrency=3)
    assert (chosen.search_slots("sqlite"), chosen.search_slots("postgresql")) == (3, 3)
