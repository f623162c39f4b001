"""Buffered pull counting: downloads are tallied per worker and flushed in one transaction."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
from fastapi.testclient import TestClient

from hub_server.app import create_app
from hub_server.settings import Settings

Publish = Callable[..., httpx.Response]
YAML = "/api/v1/components/alice/train/versions/1.0.0/component.yaml"
ARCHIVE = "/api/v1/components/alice/train/versions/1.0.0/archive"


def _pulls(client: TestClient) -> int:
    return int(client.get("/api/v1/components/alice/train").json()["pulls"])


def test_downloads_are_tallied_and_written_when_the_worker_stops(
    client: TestClient, alice: dict[str, str], publish: Publish, settings: Settings
) -> None:
    assert publish("alice", alice).status_code == 201
    app = create_app(settings.model_copy(update={"pull_flush_seconds": 3600}))
    try:
        with TestClient(app) as hub:
            for _ in range(5):
                assert hub.get(YAML).status_code == 200
            etag = hub.get(ARCHIVE).headers["etag"]
            assert hub.get(ARCHIVE, headers={"If-None-Match": etag}).status_code == 304
            assert sum(app.state.hub.pulls._pending.values()) == 6  # a 304 is not a pull
            assert _pulls(client) == 0, "no database write per download"
    finally:
        app.state.hub.engine.dispose()

    assert _pulls(client) == 6, "leaving the lifespan flushes the tally"
    assert client.get("/api/v1/components/alice/train/versions/1.0.0").json()["pulls"] == 6


def test_the_tally_is_flushed_in_the_background(
    client: TestClient, alice: dict[str, str], publish: Publish, settings: Settings
) -> None:
    assert publish("alice", alice).status_code == 201
    app = create_app(settings.model_copy(update={"pull_flush_seconds": 0.1}))
    try:
        with TestClient(app) as hub:
            hub.get(YAML)
            hub.get(YAML)
            deadline = time.monotonic() + 10
            while _pulls(client) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert _pulls(client) == 2
    finally:
        app.state.hub.engine.dispose()
