"""HUB_PUBLISH_CONCURRENCY: a worker validates and writes at most that many publishes at once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hub_server.app import create_app
from hub_server.services import components
from hub_server.settings import Settings
from tests.concurrency import MostAtOnce
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
