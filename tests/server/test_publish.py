"""Publishing through the real app: success, refusals, and that a refusal stores nothing."""

from __future__ import annotations

import gzip
import io
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from hub_server import semver
from hub_server.archive import digest, pack
from hub_server.services import auth as auth_service
from hub_server.services import components as components_service
from hub_server.services.auth import AuthService
from hub_server.settings import Settings
from tests.conftest import blob_count
from tests.factories import V1_SPEC, make_package, manifest

Publish = Callable[..., httpx.Response]
Upload = Callable[..., httpx.Response]


def _count_versions(client: TestClient) -> int:
    items = client.get("/api/v1/components", params={"per_page": 100}).json()["items"]
    return sum(item["versions_count"] for item in items)


def test_publish_returns_the_version_with_interface_hardware_and_digest(
    client: TestClient, alice: dict[str, str], tmp_path: Path, upload: Upload
) -> None:
    data = pack(make_package(tmp_path, name="train", version="1.2.0"))

    response = upload("alice", "train", data, alice)

    assert response.status_code == 201, response.text
    assert response.headers["location"] == "/api/v1/components/alice/train/versions/1.2.0"
    body = response.json()
    assert body["namespace"] == "alice"
    assert body["version"] == "1.2.0"
    assert body["digest"] == digest(data)
    assert body["size"] == len(data)
    assert body["publisher"] == "alice"
    assert body["yanked"] is False
    assert body["hardware"]["default"] == "cpu"
    assert body["hardware"]["variants"]["gpu"]["accelerator"]["model"] == "nvidia-tesla-t4"
    assert body["urls"]["component_yaml"].endswith("/versions/1.2.0/component.yaml")
    inputs = {item["name"]: item for item in body["interface"]["inputs"]}
    assert inputs["epochs"] == {
        "name": "epochs",
        "type": "Integer",
        "default": 10,
        "optional": True,
        "description": "passes over the data",
    }
    assert inputs["data"]["type"] == "system.Dataset@0.0.1"
    assert inputs["data"]["description"] == "training data"
    outputs = {item["name"]: item for item in body["interface"]["outputs"]}
    assert outputs["model"]["type"] == "system.Model@0.0.1"
    assert outputs["Output"]["type"] == "Float"
    assert body["interface"]["format"] == "v2"
    assert body["image"] == "python:3.11-slim"
    assert body["image_pinned"] is False


def test_publish_reads_a_v1_component_yaml(
    client: TestClient, alice: dict[str, str], publish: Publish
) -> None:
    response = publish("alice", alice, name="legacy", spec=V1_SPEC)

    assert response.status_code == 201, response.text
    interface = response.json()["interface"]
    assert interface["format"] == "v1"
    inputs = {item["name"]: item for item in interface["inputs"]}
    assert inputs["data"]["description"] == "training data"
    assert inputs["epochs"]["default"] == 10
    assert interface["outputs"][0]["description"] == "the trained model"


def test_a_pinned_container_image_is_recorded(
    client: TestClient, alice: dict[str, str], publish: Publish
) -> None:
    image = "example.org/ml/train@sha256:" + "ab" * 32
    response = publish("alice", alice, name="pinned", spec=V1_SPEC, image=image)

    assert response.status_code == 201, response.text
    assert response.json()["image"] == image
    assert response.json()["image_pinned"] is True


@pytest.mark.parametrize("same_bytes", [True, False])
def test_republishing_a_version_is_409_whatever_the_bytes(
    client: TestClient,
    alice: dict[str, str],
    tmp_path: Path,
    upload: Upload,
    settings: Settings,
    same_bytes: bool,
) -> None:
    first = pack(make_package(tmp_path / "a", version="1.0.0"))
    assert upload("alice", "train", first, alice).status_code == 201
    second = first if same_bytes else pack(make_package(tmp_path / "b", readme="# Other\n"))
    blobs_before = blob_count(settings)

    response = upload("alice", "train", second, alice)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "version_exists"
    assert blob_count(settings) == blobs_before
    archive = client.get("/api/v1/components/alice/train/versions/1.0.0/archive")
    assert archive.content == first


def test_build_metadata_does_not_make_a_new_version(
    client: TestClient, alice: dict[str, str], publish: Publish
) -> None:
    assert publish("alice", alice, version="1.0.0+build.1").status_code == 201

    response = publish("alice", alice, version="1.0.0+build.2")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "version_exists"


def test_a_new_version_updates_the_component(
    client: TestClient, alice: dict[str, str], publish: Publish
) -> None:
    assert publish("alice", alice, version="1.0.0").status_code == 201
    assert publish("alice", alice, version="1.1.0", description="better").status_code == 201
    assert publish("alice", alice, version="2.0.0-rc.1", description="next").status_code == 201

    component = client.get("/api/v1/components/alice/train").json()

    assert component["latest_version"] == "1.1.0"  # prereleases are not "latest"
    assert component["description"] == "better"
    assert component["versions_count"] == 3
    assert component["latest"]["version"] == "1.1.0"


# ----------------------------------------------------------------------------- refusals


def _refused(
    response: httpx.Response, status: int, code: str, client: TestClient, settings: Settings
) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    assert _count_versions(client) == 0, "a refused package must store no version"
    assert blob_count(settings) == 0, "a refused package must store no blob"
    return body


@pytest.mark.parametrize(
    ("package", "code"),
    [
        ({"readme": None}, "readme_missing"),
        ({"readme": "  \n"}, "readme_missing"),
        ({"component": "missing.yaml"}, "component_spec_missing"),
        ({"spec": "name: x\nimplementation: {}\n"}, "invalid_component_spec"),
        ({"spec": "just a string"}, "invalid_component_spec"),
        ({"name": "train", "version": "01.0.0"}, "invalid_manifest"),
        ({"category": "astrology"}, "invalid_manifest"),
        ({"license": None}, "invalid_manifest"),
        ({"unknown_field": 1}, "invalid_manifest"),
        (
            {"hardware": {"default": "gpu", "variants": {"cpu": {}}}},
            "invalid_manifest",
        ),
        (
            {
                "hardware": {
                    "default": "cpu",
                    "variants": {"cpu": {"resources": {"memory": "1.5Gi"}}},
                }
            },
            "invalid_manifest",
        ),
        (
            {
                "hardware": {
                    "default": "cpu",
                    "variants": {"cpu": {"arguments": {"no_such_input": 1}}},
                }
            },
            "invalid_manifest",
        ),
        ({"namespace": "bob"}, "manifest_mismatch"),
    ],
)
def test_invalid_packages_are_refused_and_nothing_is_stored(
    client: TestClient,
    alice: dict[str, str],
    publish: Publish,
    settings: Settings,
    package: dict[str, Any],
    code: str,
) -> None:
    response = publish("alice", alice, **package)

    _refused(response, 422, code, client, settings)


def test_invalid_manifest_lists_every_problem_with_its_field(
    client: TestClient, alice: dict[str, str], publish: Publish, settings: Settings
) -> None:
    response = publish("alice", alice, category="astrology", tags=["UPPER"], authors=[])

    body = _refused(response, 422, "invalid_manifest", client, settings)
    fields = {error["field"] for error in body["error"]["detail"]["errors"]}
    assert {"category", "tags.0", "authors"} <= fields


def test_name_in_url_must_match_the_manifest(
    client: TestClient, alice: dict[str, str], tmp_path: Path, upload: Upload, settings: Settings
) -> None:
    data = pack(make_package(tmp_path, name="train"))

    response = upload("alice", "other-name", data, alice)

    body = _refused(response, 422, "manifest_mismatch", client, settings)
    assert body["error"]["detail"]["field"] == "name"


def test_invalid_namespace_in_url(
    client: TestClient, admin: dict[str, str], tmp_path: Path, upload: Upload, settings: Settings
) -> None:
    data = pack(make_package(tmp_path, name="train"))

    response = upload("Not_Valid", "train", data, admin)

    _refused(response, 422, "invalid_name", client, settings)


def test_missing_manifest(
    client: TestClient, alice: dict[str, str], upload: Upload, settings: Settings
) -> None:
    response = upload("alice", "train", _tar({"README.md": b"# hi\n"}), alice)

    _refused(response, 422, "manifest_missing", client, settings)


def test_missing_archive_field_is_a_validation_error(
    client: TestClient, alice: dict[str, str]
) -> None:
    response = client.post("/api/v1/components/alice/train/versions", headers=alice)

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


# ----------------------------------------------------------------------------- archive attacks


def _tar(files: dict[str, bytes], extra: Callable[[tarfile.TarFile], None] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path, content in files.items():
            info = tarfile.TarInfo(path)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
        if extra:
            extra(tar)
    return buffer.getvalue()


def _valid_files(tmp_path: Path) -> dict[str, bytes]:
    folder = make_package(tmp_path / "valid")
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def _alias_bomb(files: dict[str, bytes]) -> bytes:
    """The "billion laughs": each anchor expands to three copies of the previous one."""
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for i in range(8):
        prev, cur = chr(97 + i), chr(98 + i)
        lines.append(f"{cur}: &{cur} [*{prev},*{prev},*{prev}]")
    return _tar({**files, "hub.yaml": "\n".join(lines).encode() + b"\n"})


def _link(kind: bytes, name: str = "evil", target: str = "/etc/passwd") -> Callable[..., None]:
    def add(tar: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.linkname = target
        tar.addfile(info)

    return add


ATTACKS: dict[str, tuple[Callable[[dict[str, bytes]], bytes], int, str]] = {
    "absolute path": (lambda f: _tar({**f, "/etc/cron.d/x": b"x"}), 422, "unsafe_path"),
    "dot-dot": (lambda f: _tar({**f, "../../outside": b"x"}), 422, "unsafe_path"),
    "symlink": (lambda f: _tar(f, _link(tarfile.SYMTYPE)), 422, "archive_link"),
    "hardlink": (lambda f: _tar(f, _link(tarfile.LNKTYPE, target="hub.yaml")), 422, "archive_link"),
    "device": (lambda f: _tar(f, _link(tarfile.CHRTYPE, "dev", "")), 422, "archive_special_file"),
    "fifo": (lambda f: _tar(f, _link(tarfile.FIFOTYPE, "pipe", "")), 422, "archive_special_file"),
    "entry too large": (
        lambda f: _tar({**f, "big.bin": b"\0" * (2 * 1024 * 1024)}),
        422,
        "archive_entry_too_large",
    ),
    "gzip bomb": (
        lambda f: _tar({**f, **{f"z{i}.bin": b"\0" * (1024 * 1024) for i in range(6)}}),
        422,
        "archive_too_large_uncompressed",
    ),
    "not gzip": (lambda f: b"PK\x03\x04 this is a zip", 422, "invalid_archive"),
    "truncated": (lambda f: _tar(f)[:200], 422, "invalid_archive"),
    "yaml alias bomb": (_alias_bomb, 422, "yaml_aliases"),
    "non-utf8 manifest": (
        lambda f: _tar(
            {**f, "hub.yaml": f["hub.yaml"].replace(b"trains", "tr\xe4ins".encode("latin-1"))}
        ),
        422,
        "invalid_encoding",
    ),
    "too large compressed": (
        lambda f: gzip.compress(b"\xff" * 10, mtime=0) + bytes(range(256)) * 14 * 1024,
        413,
        "archive_too_large",
    ),
    "body over the request limit": (
        lambda f: bytes(range(256)) * 20 * 1024,
        413,
        "request_too_large",
    ),
}


@pytest.fixture
def small_limits(settings: Settings) -> Settings:
    """Limits small enough that the attacks stay cheap to build."""
    settings.max_entry_bytes = 1024 * 1024
    settings.max_total_bytes = 4 * 1024 * 1024
    settings.max_archive_bytes = 3 * 1024 * 1024
    return settings


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_archive_attacks_are_refused_and_nothing_is_stored(
    small_limits: Settings,
    client: TestClient,
    alice: dict[str, str],
    upload: Upload,
    tmp_path: Path,
    attack: str,
) -> None:
    build, status, code = ATTACKS[attack]
    data = build(_valid_files(tmp_path))

    response = upload("team", "train", data, alice)

    _refused(response, status, code, client, small_limits)
    assert client.get("/api/v1/components/team/train").status_code == 404
    # the new namespace was not claimed either
    assert client.get("/api/v1/whoami", headers=alice).json()["namespaces"] == ["alice"]


def test_archive_limits_come_from_settings(
    small_limits: Settings, client: TestClient, alice: dict[str, str], publish: Publish
) -> None:
    assert publish("alice", alice, files={"data.bin": b"\0" * 1000}).status_code == 201


def test_manifest_dump_matches_the_upload(
    client: TestClient, alice: dict[str, str], publish: Publish
) -> None:
    response = publish("alice", alice, homepage="https://example.org/train")

    stored = response.json()["manifest"]
    expected = manifest(homepage="https://example.org/train")
    for key in ("name", "version", "category", "tags", "license", "authors", "homepage"):
        assert stored[key] == expected[key]


def test_an_oversized_streamed_body_is_refused_while_it_arrives(
    small_limits: Settings, client: TestClient, alice: dict[str, str]
) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(64):  # 64 MiB, far beyond max_archive_bytes + 1 MiB, no Content-Length
            yield b"\0" * (1024 * 1024)

    response = client.post(
        "/api/v1/components/alice/train/versions",
        content=chunks(),
        headers={**alice, "Content-Type": "multipart/form-data; boundary=x"},
    )

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"
    assert blob_count(small_limits) == 0


def test_the_statements_every_publish_runs_are_built_once(
    app: Any,
    alice: dict[str, str],
    publish: Callable[..., httpx.Response],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A publish's token lookup, component lookups, version check and catalogue bump run
    statements built at import, not built again for every publish (publish on PostgreSQL,
    one worker, 32 connections: 104/108 → 114/122 versions/s)."""
    assert publish("alice", alice).status_code == 201
    state = app.state.hub

    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("a statement was built for this publish")

    monkeypatch.setattr(components_service, "select", refuse)
    monkeypatch.setattr(auth_service, "select", refuse)
    monkeypatch.setattr(components_service.sa, "update", refuse)
    with state.session() as session:
        components = state.components(session)
        token = alice["Authorization"].removeprefix("Bearer ")
        assert AuthService(session).authenticate(token).name == "alice"
        found = components._find_component("alice", "train")
        assert found is not None
        assert found.name == "train"
        assert components._find_component("alice", "nothing") is None
        assert components._find_component("alice", "train", for_update=True) is found
        assert components._has_version(found, semver.Version.parse("1.0.0"))
        assert not components._has_version(found, semver.Version.parse("1.0.1"))
        components._bump_catalog()
        session.rollback()
