"""HUB_SEARCH_CONCURRENCY: a worker runs at most that many listings and searches at once."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi.testclient import TestClient

from hub_server.app import create_app
from hub_server.services import search
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
