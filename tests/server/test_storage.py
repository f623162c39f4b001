"""One contract, run against every blob storage backend: local files, and S3 through moto's
server over HTTP."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from hub_server.app import create_app
from hub_server.errors import BadRequest
from hub_server.serve import prepare
from hub_server.settings import Settings
from hub_server.storage import BlobStorage, open_storage
from tests.conftest import ADMIN_TOKEN, free_port, missing_service
from tests.factories import pack_package


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server in its own process, on a free loopback port."""
    binary = shutil.which("moto_server")
    if binary is None:
        missing_service("the S3 tests need moto's server (pip install 'moto[server]')")
    port = free_port()
    process = subprocess.Popen(  # a console script of the dev extras
        [str(binary), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    missing_service("moto_server did not start")
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def s3_bucket(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    import boto3

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    bucket = f"hub-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=bucket)
    return bucket


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture(params=["file", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStorage:
    if request.param == "file":
        return open_storage((tmp_path / "blobs").as_uri())
    bucket = request.getfixturevalue("s3_bucket")
    endpoint = request.getfixturevalue("s3_endpoint")
    return open_storage(f"s3://{bucket}/hub/blobs", s3_endpoint_url=endpoint)


def test_put_get_exists_delete(storage: BlobStorage) -> None:
    data = b"archive bytes"
    key = _digest(data)

    assert not storage.exists(key)
    storage.put(key, data)
    storage.put(key, data)  # idempotent

    assert storage.exists(key)
    assert storage.get(key) == data
    assert [b.digest for b in storage.iter_blobs()] == [key]
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
    assert [b.digest for b in storage.iter_blobs()] == [key]


def test_keys_must_be_digests(storage: BlobStorage) -> None:
    with pytest.raises(ValueError, match="digest"):
        storage.put("../../etc/passwd", b"x")


def test_check_passes(storage: BlobStorage) -> None:
    storage.check()


def test_unknown_scheme_is_refused() -> None:
    with pytest.raises(BadRequest, match="unsupported storage URL"):
        open_storage("ftp://example.org/blobs")


def test_an_unreachable_store_fails_its_check(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    store = open_storage("s3://missing-bucket/x", s3_endpoint_url=f"http://127.0.0.1:{free_port()}")

    with pytest.raises(Exception):  # noqa: B017,PT011 - botocore's connection error
        store.check()


def test_s3_url_needs_a_bucket() -> None:
    with pytest.raises(BadRequest, match="names no bucket"):
        open_storage("s3:///prefix")


def test_publish_and_download_through_s3(s3_bucket: str, s3_endpoint: str, tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        storage_url=f"s3://{s3_bucket}/blobs",
        s3_endpoint_url=s3_endpoint,
        admin_token=ADMIN_TOKEN,
        resolve_images=False,
    )
    prepare(settings)
    data = pack_package(tmp_path / "pkg")
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with TestClient(create_app(settings)) as client:
        published = client.post(
            "/api/v1/components/library/train/versions",
            files={"archive": ("a.tar.gz", data)},
            headers=headers,
        )
        assert published.status_code == 201, published.text
        archive = client.get("/api/v1/components/library/train/versions/1.0.0/archive")
        ready = client.get("/readyz").json()

    assert archive.content == data
    assert ready["checks"]["storage"] == "ok"
    store = open_storage(f"s3://{s3_bucket}/blobs", s3_endpoint_url=s3_endpoint)
    assert [b.digest for b in store.iter_blobs()] == [published.json()["digest"]]
