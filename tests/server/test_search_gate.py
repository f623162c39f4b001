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

from hub_server.app import create_app
from hub_server.services import search
from hub_server.settings import Settings

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
    running, most = 0, 0
    lock = threading.Lock()
    rank = search.rank

    def slow_rank(*args: Any, **kwargs: Any) -> Any:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.1)
        with lock:
            running -= 1
        return rank(*args, **kwargs)

    monkeypatch.setattr(search, "rank", slow_rank)
    app = create_app(settings.model_copy(update={"search_concurrency": slots}))
    try:
        with TestClient(app) as hub, ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(lambda _: hub.get("/api/v1/components?q=train"), range(6)))
    finally:
        app.state.hub.engine.dispose()
    assert [a.status_code for a in answers] == [200] * 6
    assert all(a.json()["items"][0]["name"] == "train" for a in answers)
    assert most == slots
