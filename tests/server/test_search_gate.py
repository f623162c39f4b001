"""HUB_SEARCH_CONCURRENCY: a worker runs at most that many listings and searches at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
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
from tests.concurrency import MostAtOnce

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
