"""Garbage collection removes old unreferenced blobs and nothing else."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from datetime import timedelta

import httpx
from fastapi.testclient import TestClient
from sqlmodel import Session

from hub_server.services.gc import collect_garbage
from hub_server.settings import Settings

Publish = Callable[..., httpx.Response]


def _orphan(settings: Settings, content: bytes, *, age_seconds: float) -> str:
    digest = "sha256:" + hashlib.sha256(content).hexdigest()
    path = settings.data_dir / "blobs" / "sha256" / digest[7:9] / digest[7:]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    old = time.time() - age_seconds
    os.utime(path, (old, old))
    return digest


def test_gc_removes_only_old_unreferenced_blobs(
    client: TestClient, alice: dict[str, str], publish: Publish, settings: Settings
) -> None:
    published = publish("alice", alice).json()["digest"]
    old = _orphan(settings, b"left by a failed publish", age_seconds=7200)
    young = _orphan(settings, b"a publish about to commit", age_seconds=5)
    state = client.app.state.hub  # type: ignore[attr-defined]

    with Session(state.engine) as session:
        dry = collect_garbage(session, state.storage, grace=timedelta(hours=1), dry_run=True)
        assert dry.removed == [old]
        assert state.storage.exists(old)

        report = collect_garbage(session, state.storage, grace=timedelta(hours=1))

    assert report.removed == [old]
    assert report.bytes_freed == len(b"left by a failed publish")
    assert (report.scanned, report.referenced, report.young) == (3, 1, 1)
    assert not state.storage.exists(old)
    assert state.storage.exists(young)
    assert state.storage.exists(published)
    download = client.get("/api/v1/components/alice/train/versions/1.0.0/archive")
    assert download.status_code == 200


def test_a_blob_written_again_becomes_young(settings: Settings, client: TestClient) -> None:
    state = client.app.state.hub  # type: ignore[attr-defined]
    content = b"old orphan that a new publish is about to name"
    digest = _orphan(settings, content, age_seconds=7200)

    state.storage.put(digest, content)

    with Session(state.engine) as session:
        report = collect_garbage(session, state.storage, grace=timedelta(hours=1))
    assert report.removed == []
    assert report.young == 1


def test_hub_gc_command(
    client: TestClient, settings: Settings, publish: Publish, alice: dict[str, str], monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from hub_cli.main import app

    publish("alice", alice)
    old = _orphan(settings, b"orphan", age_seconds=7200)
    monkeypatch.setenv("HUB_DATABASE_URL", settings.resolved_database_url)
    runner = CliRunner()

    dry = runner.invoke(app, ["gc", "--data-dir", str(settings.data_dir), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would remove 1" in dry.output
    assert old in dry.output
    state = client.app.state.hub  # type: ignore[attr-defined]
    assert state.storage.exists(old)

    done = runner.invoke(app, ["gc", "--data-dir", str(settings.data_dir)])
    assert done.exit_code == 0, done.output
    assert "removed 1" in done.output
    assert not state.storage.exists(old)
