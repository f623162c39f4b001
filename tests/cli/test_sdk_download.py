"""pull(): ask the hub only when needed, verify every archive, fall back to the cache offline."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hub_cli import HubClient, errors
from hub_cli.cache import Cache
from hub_cli.download import pull
from hub_cli.lockfile import LockedComponent, Lockfile
from tests.cli.conftest import Publish
from tests.conftest import free_port


@pytest.fixture
def requests(client: TestClient) -> list[str]:
    """Paths of the requests the in-process app receives from now on."""
    seen: list[str] = []
    client.event_hooks["request"].append(lambda request: seen.append(request.url.path))
    return seen


def down() -> HubClient:
    """A client whose hub is not there."""
    return HubClient(url=f"http://127.0.0.1:{free_port()}", backoff=0.01)


def test_first_pull_downloads_then_the_cache_answers(
    hub: HubClient, published: Publish, requests: list[str]
) -> None:
    first = pull("alice/train@^1.0", client=hub)
    downloads = [p for p in requests if p.endswith("/archive")]
    requests.clear()
    exact = pull("alice/train@1.1.0", client=hub)
    exact_requests = list(requests)
    ranged = pull("alice/train@^1.0", client=hub)

    assert (first.version, first.source) == ("1.1.0", "hub")
    assert len(downloads) == 1
    assert (exact.source, exact_requests) == ("cache", []), "an exact cached version: no request"
    assert ranged.source == "cache"
    assert not any(p.endswith("/archive") for p in requests)
    assert first.digest == exact.digest == ranged.digest
    assert first.archive.read_bytes() == first.data
    assert set(first.files()) >= {"hub.yaml", "component.yaml", "README.md"}


def test_a_corrupt_cached_archive_fails_every_pull(
    hub: HubClient, published: Publish, requests: list[str]
) -> None:
    pulled = pull("alice/train@1.0.0", client=hub)
    pulled.archive.write_bytes(b"corrupted")
    requests.clear()

    for ref in ("alice/train@1.0.0", "alice/train@~1.0.0"):
        with pytest.raises(errors.DigestMismatchError, match="is corrupt"):
            pull(ref, client=hub)

    assert pulled.archive.read_bytes() == b"corrupted"
    assert not any(p.endswith("/archive") for p in requests), "never silently re-downloaded"


def test_nothing_fits(hub: HubClient, published: Publish) -> None:
    with pytest.raises(errors.NoMatchingVersionError):
        pull("alice/train@^3", client=hub)
    with pytest.raises(errors.VersionNotFoundError):
        pull("alice/train@1.0.1", client=hub)
    with pytest.raises(errors.ComponentNotFoundError):
        pull("alice/nothing", client=hub)


def test_offline_the_highest_cached_version_that_fits_stands_in(
    client: TestClient, published: Publish, caplog: pytest.LogCaptureFixture
) -> None:
    # Online through the in-process app, then the same URL with nothing listening there.
    url = f"http://127.0.0.1:{free_port()}"
    online = HubClient(url=url, http_client=client)
    for version in ("1.0.0", "1.1.0"):
        pull(f"alice/train@{version}", client=online)
    offline = HubClient(url=url, backoff=0.01)

    with caplog.at_level(logging.WARNING, logger="hub_cli"):
        pulled = pull("alice/train@^1.0", client=offline)

    assert (pulled.version, pulled.source) == ("1.1.0", "offline")
    assert "working offline with the cached alice/train@1.1.0" in caplog.text
    with pytest.raises(errors.OfflineError, match=r"no cached version of alice/train@\^2"):
        pull("alice/train@^2", client=offline)


def test_hub_offline_never_contacts_the_hub(
    hub: HubClient, published: Publish, requests: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pull("alice/train@1.0.0", client=hub)
    requests.clear()
    monkeypatch.setenv("HUB_OFFLINE", "1")

    assert pull("alice/train@^1", client=hub).version == "1.0.0"
    assert requests == []
    with pytest.raises(errors.OfflineError, match="HUB_OFFLINE"):
        pull("alice/other", client=hub)


def test_a_locked_and_cached_version_needs_no_hub(
    hub: HubClient, published: Publish, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    online = pull("alice/train@1.0.0", client=hub)
    lock = Lockfile(
        path=tmp_path / "hub.lock",
        requests=["alice/train@^1.0"],
        components=[
            LockedComponent("alice/train@^1.0", "alice/train", "1.0.0", online.digest),
        ],
    )

    with caplog.at_level(logging.INFO, logger="hub_cli"):
        pulled = pull("alice/train@^1.0", client=down(), lock=lock)

    assert (pulled.version, pulled.source, pulled.locked_by) == ("1.0.0", "lock", lock.path)
    assert "from the cache; the hub is not contacted" in caplog.text


def test_a_locked_version_that_is_not_cached_is_downloaded_and_checked(
    hub: HubClient, published: Publish, tmp_path: Path
) -> None:
    real = hub.get_version("alice/train@1.0.0").digest
    wrong = "sha256:" + "0" * 64
    lock = Lockfile(
        path=tmp_path / "hub.lock",
        components=[LockedComponent("alice/train", "alice/train", "1.0.0", wrong)],
    )

    with pytest.raises(errors.DigestMismatchError, match="pins sha256:0000"):
        pull("alice/train", client=hub, lock=lock)
    assert not Cache().has_blob(wrong)
    assert not Cache().has_blob(real)

    lock.components = [LockedComponent("alice/train", "alice/train", "1.0.0", real)]
    assert pull("alice/train", client=hub, lock=lock).source == "hub"
    lock.components = [LockedComponent("alice/train", "alice/train", "1.1.0", wrong)]
    with pytest.raises(errors.OfflineError, match="not in the cache"):
        pull("alice/train", client=down(), lock=lock)


def test_the_lockfile_of_the_working_folder_is_found(
    hub: HubClient, published: Publish, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    digest = hub.get_version("alice/train@1.0.0").digest
    project = tmp_path / "project"
    (project / "pipelines").mkdir(parents=True)
    Lockfile(
        path=project / "hub.lock",
        requests=["alice/train@^1"],
        components=[LockedComponent("alice/train@^1", "alice/train", "1.0.0", digest)],
    ).save()
    monkeypatch.chdir(project / "pipelines")

    assert pull("alice/train@^1", client=hub).version == "1.0.0", "locked, not the newest"
    assert pull("alice/train@^1", client=hub, lock=False).version == "1.1.0"
    with pytest.raises(errors.LockfileError, match=r"does not satisfy '\^1.1'"):
        pull("alice/train@^1.1", client=hub)
