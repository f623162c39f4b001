"""HUB_PUBLISH_CONCURRENCY: a worker validates and writes at most that many publishes at once."""

from __future__ import annotations

from collections.abc import Awaitable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from hub_server.app import create_app
from hub_server.deps import FairGate
from hub_server.services import components
from hub_server.settings import Settings
from tests.concurrency import MostAtOnce, threads_held_while_queued
from tests.factories import pack_package


@pytest.mark.parametrize("slots", [1, 2, 6])
def test_publishes_beyond_the_limit_wait_their_turn(
    tmp_path: Path,
    settings: Settings,
    client: TestClient,
    alice: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    slots: int,
) -> None:
    # Long enough that all six uploads (parsed one by one on the event loop) overlap.
    counted = MostAtOnce(components.validate_package, hold=0.5)
    monkeypatch.setattr(components, "validate_package", counted)
    packages = [pack_package(tmp_path / f"p{i}", version=f"1.{i}.0") for i in range(6)]
    app = create_app(settings.model_copy(update={"publish_concurrency": slots}))

    def publish(hub: TestClient, data: bytes) -> int:
        answer = hub.post(
            "/api/v1/components/alice/train/versions",
            files={"archive": ("train.tar.gz", data, "application/gzip")},
            headers=alice,
        )
        return answer.status_code

    try:
        with TestClient(app) as hub, ThreadPoolExecutor(6) as pool:
            codes = list(pool.map(lambda data: publish(hub, data), packages))
            versions = [
                v["version"] for v in hub.get("/api/v1/components/alice/train/versions").json()
            ]
    finally:
        app.state.hub.engine.dispose()
    assert codes == [201] * 6
    assert sorted(versions) == [f"1.{i}.0" for i in range(6)]
    assert counted.most == slots


def test_a_publish_waiting_for_its_turn_holds_no_thread_of_the_pool(
    tmp_path: Path, app: Any, client: TestClient, alice: dict[str, str]
) -> None:
    """The API's publish waits for its turns on the event loop, as the search does (see
    tests/server/test_search_gate.py): not parked in threads of the pool."""
    gate: FairGate = app.state.hub.publish_gate
    slots = app.state.hub.settings.publish_concurrency
    packages = iter([pack_package(tmp_path / f"p{i}", version=f"1.{i}.0") for i in range(4)])

    def send(hub: httpx.AsyncClient) -> Awaitable[httpx.Response]:
        archive = ("train.tar.gz", next(packages), "application/gzip")
        return hub.post(
            "/api/v1/components/alice/train/versions", files={"archive": archive}, headers=alice
        )

    statuses, taken = threads_held_while_queued(app, gate, slots, send, count=4)
    assert statuses == [201] * 4
    assert taken == 0
    versions = [v["version"] for v in client.get("/api/v1/components/alice/train/versions").json()]
    assert sorted(versions) == [f"1.{i}.0" for i in range(4)]
