"""Image pinning against a real OCI registry (Debian's docker-registry) on loopback."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from hub_server.oci import ImageRef, ImageResolver
from hub_server.settings import Settings
from tests.conftest import blob_count, free_port, missing_service
from tests.factories import V1_SPEC

Publish = Callable[..., httpx.Response]


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A docker-registry on a free loopback port; yields its host:port."""
    binary = shutil.which("docker-registry") or shutil.which("registry")
    if binary is None:
        missing_service("the OCI registry tests need Debian's docker-registry (apt-get install)")
    root = tmp_path_factory.mktemp("registry")
    port = free_port()
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
        "log:\n  level: error\n"
    )
    process = subprocess.Popen(
        [str(binary), "serve", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    host = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"http://{host}/v2/", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                missing_service("docker-registry did not start")
            time.sleep(0.1)
        yield host
    finally:
        process.terminate()
        process.wait(timeout=10)


def _upload_blob(host: str, repository: str, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    start = httpx.post(f"http://{host}/v2/{repository}/blobs/uploads/")
    assert start.status_code == 202, start.text
    location = start.headers["location"]
    if location.startswith("/"):
        location = f"http://{host}{location}"
    # The upload URL carries the registry's own state in its query: add to it, do not replace it.
    separator = "&" if "?" in location else "?"
    done = httpx.put(
        f"{location}{separator}digest={digest}",
        content=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert done.status_code == 201, done.text
    return digest


def push_image(host: str, repository: str, tag: str, payload: bytes = b"layer") -> str:
    """Push a tiny OCI image through the distribution API; returns its manifest digest."""
    config = json.dumps(
        {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}
    ).encode()
    config_digest = _upload_blob(host, repository, config)
    layer_digest = _upload_blob(host, repository, payload)
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_digest, "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": layer_digest, "size": len(payload)}],
    }).encode()  # fmt: skip
    response = httpx.put(
        f"http://{host}/v2/{repository}/manifests/{tag}",
        content=manifest,
        headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
    )
    assert response.status_code == 201, response.text
    return "sha256:" + hashlib.sha256(manifest).hexdigest()


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest"),
    [
        ("python:3.11-slim", "docker.io", "library/python", "3.11-slim", None),
        ("python", "docker.io", "library/python", None, None),
        ("ml/train:1.0", "docker.io", "ml/train", "1.0", None),
        ("ghcr.io/org/ml/train:2", "ghcr.io", "org/ml/train", "2", None),
        ("localhost:5000/train", "localhost:5000", "train", None, None),
        ("127.0.0.1:5000/a/b:c", "127.0.0.1:5000", "a/b", "c", None),
        ("x.org/t@sha256:" + "a" * 64, "x.org", "t", None, "sha256:" + "a" * 64),
    ],
)
def test_image_references_are_normalised_like_docker(
    text: str, registry: str, repository: str, tag: str | None, digest: str | None
) -> None:
    ref = ImageRef.parse(text)

    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (
        registry,
        repository,
        tag,
        digest,
    )


@pytest.mark.parametrize("text", ["UPPER/case", "x.org/t@sha256:short", "", "a//b"])
def test_bad_image_references(text: str) -> None:
    with pytest.raises(ValueError, match=r"image reference|digest"):
        ImageRef.parse(text)


def test_a_tag_resolves_to_the_registry_digest(registry: str) -> None:
    digest = push_image(registry, "ml/resolve", "1.0")

    resolution = ImageResolver().resolve(f"{registry}/ml/resolve:1.0")

    assert resolution.digest == digest
    assert resolution.resolved == f"{registry}/ml/resolve:1.0@{digest}"
    assert resolution.pinned


@pytest.fixture
def pinning(settings: Settings) -> Settings:
    settings.resolve_images = True
    return settings


def _container_package(image: str, gpu_image: str) -> dict[str, object]:
    return {
        "spec": V1_SPEC.replace("python:3.11-slim", image),
        "image": image,
        "hardware": {
            "default": "cpu",
            "variants": {
                "cpu": {"resources": {"cpu": "1"}},
                "gpu": {
                    "image": gpu_image,
                    "accelerator": {"type": "nvidia.com/gpu", "count": 1},
                },
            },
        },
    }


def test_publish_pins_the_image_and_variant_images(
    pinning: Settings, registry: str, client: TestClient, alice: dict[str, str], publish: Publish
) -> None:
    cpu = push_image(registry, "ml/train", "1.0", b"cpu layer")
    gpu = push_image(registry, "ml/train", "1.0-cuda12", b"gpu layer")
    image, gpu_image = f"{registry}/ml/train:1.0", f"{registry}/ml/train:1.0-cuda12"

    response = publish("alice", alice, **_container_package(image, gpu_image))

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["image"] == f"{image}@{cpu}"
    assert body["image_pinned"] is True
    assert {i["ref"]: i["digest"] for i in body["images"]} == {image: cpu, gpu_image: gpu}
    assert all(i["pinned"] and i["error"] is None for i in body["images"])


def test_an_image_the_registry_does_not_have_is_refused(
    pinning: Settings, registry: str, client: TestClient, alice: dict[str, str], publish: Publish
) -> None:
    image = f"{registry}/ml/never-pushed:1.0"

    response = publish("alice", alice, **_container_package(image, image))

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "image_not_found"
    assert blob_count(pinning) == 0
    assert client.get("/api/v1/components/alice/train").status_code == 404


def test_an_unreachable_registry_leaves_the_image_unpinned_with_the_reason(
    pinning: Settings, client: TestClient, alice: dict[str, str], publish: Publish
) -> None:
    image = f"127.0.0.1:{free_port()}/ml/train:1.0"  # nothing listens there

    first = publish("alice", alice, version="1.0.0", **_container_package(image, image))
    second = publish("alice", alice, version="1.0.1", **_container_package(image, image))

    assert first.status_code == 201, first.text
    body = first.json()
    assert body["image"] == image
    assert body["image_pinned"] is False
    assert "unreachable" in body["images"][0]["error"]
    assert second.status_code == 201
    resolver = client.app.state.hub.images  # type: ignore[attr-defined]
    assert f"127.0.0.1:{image.split(':')[1].split('/')[0]}" in resolver._unreachable


def test_an_image_given_by_digest_needs_no_lookup(
    pinning: Settings,
    client: TestClient,
    alice: dict[str, str],
    publish: Publish,
    tmp_path: Path,
) -> None:
    image = f"127.0.0.1:{free_port()}/ml/train@sha256:" + "c" * 64

    response = publish("alice", alice, **_container_package(image, image))

    assert response.status_code == 201, response.text
    assert response.json()["image_pinned"] is True
    assert response.json()["images"][0]["error"] is None
