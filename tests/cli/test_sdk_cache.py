"""The content-addressed cache: verified writes, atomic renames, concurrent writers."""

from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path
from typing import IO

import pytest

from hub_cli.cache import Cache, hub_key
from hub_cli.errors import DigestMismatchError
from hub_server.archive import digest, pack
from tests.factories import make_package


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith(".tmp") or ".tmp" in p.name]


def test_blobs_are_stored_by_digest_and_read_back_verified(cache_root: Path) -> None:
    cache = Cache()
    data = b"archive bytes"

    path = cache.store_bytes(data)

    assert cache.root == cache_root
    assert path == cache_root / "blobs" / "sha256" / hashlib.sha256(data).hexdigest()
    assert cache.read_blob(_digest(data)) == data
    assert cache.read_blob(_digest(b"other")) is None
    assert _leftovers(cache_root) == []


def test_wrong_bytes_are_never_moved_into_place(cache_root: Path) -> None:
    cache = Cache()
    expected = _digest(b"what the hub promised")

    with pytest.raises(DigestMismatchError) as caught:
        cache.store_blob(expected, lambda handle: handle.write(b"what arrived"))

    assert caught.value.actual == _digest(b"what arrived")
    assert not cache.has_blob(expected)
    assert _leftovers(cache_root) == []


def test_a_corrupt_cached_blob_is_an_error_not_a_redownload(cache_root: Path) -> None:
    cache = Cache()
    data = b"good archive"
    path = cache.store_bytes(data)
    path.write_bytes(b"bit rot")
    calls: list[int] = []

    with pytest.raises(DigestMismatchError, match="is corrupt") as on_read:
        cache.read_blob(_digest(data))
    with pytest.raises(DigestMismatchError):
        cache.store_blob(_digest(data), lambda handle: calls.append(handle.write(data)))

    assert on_read.value.path == str(path)
    assert calls == []
    assert path.read_bytes() == b"bit rot", "left for a person to look at"


def test_concurrent_writers_of_one_blob_download_it_once(cache_root: Path) -> None:
    data = b"x" * 100_000
    fills: list[int] = []
    results: list[Path] = []
    failures: list[BaseException] = []

    def slow_fill(handle: IO[bytes]) -> None:
        fills.append(1)
        for start in range(0, len(data), 10_000):
            handle.write(data[start : start + 10_000])
            time.sleep(0.005)

    def writer() -> None:
        try:
            results.append(Cache().store_blob(_digest(data), slow_fill))
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert len(results) == 4
    assert len(set(results)) == 1
    assert len(fills) == 1, "the others waited on the lock and found the blob"
    assert results[0].read_bytes() == data
    assert _leftovers(cache_root) == []


def test_snapshots_unpack_the_verified_archive(tmp_path: Path) -> None:
    folder = make_package(tmp_path / "src", files={"tests/inputs.yaml": "a: 1\n"})
    data = pack(folder)
    cache = Cache()
    cache.store_bytes(data)

    snapshot = cache.snapshot(digest(data))

    assert snapshot == cache.snapshot_path(digest(data))
    assert (snapshot / "hub.yaml").read_bytes() == (folder / "hub.yaml").read_bytes()
    assert (snapshot / "tests" / "inputs.yaml").read_text() == "a: 1\n"
    assert cache.snapshot(digest(data)) == snapshot, "made once"


def test_refs_are_kept_per_hub() -> None:
    cache = Cache()
    one, two = _digest(b"one"), _digest(b"two")
    cache.store_bytes(b"one")

    cache.write_ref("http://hub-a:8000", "alice", "train", "1.0.0", one)
    cache.write_ref("https://hub-b", "alice", "train", "1.0.0", two)

    assert cache.read_ref("http://hub-a:8000", "alice", "train", "1.0.0") == one
    assert cache.read_ref("https://hub-b", "alice", "train", "1.0.0") == two
    assert cache.read_ref("http://hub-a:8000", "alice", "train", "2.0.0") is None
    assert cache.cached_versions("http://hub-a:8000", "alice", "train") == {"1.0.0": one}
    assert cache.cached_versions("https://hub-b", "alice", "train") == {}, "blob not cached"
    assert hub_key("http://127.0.0.1:8000/") == "127.0.0.1_8000"
    assert hub_key("https://hub.example/prefix") == "hub.example_prefix"


def test_hub_cache_dir_overrides_the_xdg_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HUB_CACHE_DIR", str(tmp_path / "elsewhere"))

    path = Cache().store_bytes(b"data")

    assert path.is_relative_to(tmp_path / "elsewhere")
