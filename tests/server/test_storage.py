"""One contract, run against every blob storage backend."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import pytest

from hub_server.errors import BadRequest
from hub_server.storage import BlobStorage, open_storage


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture(params=["file"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStorage:
    return open_storage((tmp_path / "blobs").as_uri())


def test_put_get_exists_delete(storage: BlobStorage) -> None:
    data = b"archive bytes"
    key = _digest(data)

    assert not storage.exists(key)
    storage.put(key, data)
    storage.put(key, data)  # idempotent

    assert storage.exists(key)
    assert storage.get(key) == data
    assert list(storage.iter_digests()) == [key]
    storage.delete(key)
    storage.delete(key)  # absent is fine
    assert not storage.exists(key)
    with pytest.raises(KeyError):
        storage.get(key)


def test_concurrent_writers_of_one_blob_leave_one_good_copy(storage: BlobStorage) -> None:
    data = bytes(range(256)) * 4096
    key = _digest(data)
    threads = [threading.Thread(target=storage.put, args=(key, data)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert storage.get(key) == data
    assert list(storage.iter_digests()) == [key]


def test_keys_must_be_digests(storage: BlobStorage) -> None:
    with pytest.raises(ValueError, match="digest"):
        storage.put("../../etc/passwd", b"x")


def test_check_passes(storage: BlobStorage) -> None:
    storage.check()


def test_unknown_scheme_is_refused() -> None:
    with pytest.raises(BadRequest, match="unsupported storage URL"):
        open_storage("ftp://example.org/blobs")
