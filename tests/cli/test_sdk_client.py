"""HubClient against the real app in-process: one typed method per route, typed errors."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from hub_cli import HubClient, errors
from hub_cli.models import ComponentInfo, VersionInfo
from hub_server.app import create_app
from hub_server.archive import digest, pack
from hub_server.settings import Settings
from tests.cli.conftest import Publish, token_of
from tests.conftest import ADMIN_TOKEN, free_port
from tests.factories import make_package


def test_the_public_surface_is_exported_lazily() -> None:
    import hub_cli

    assert set(hub_cli.__all__) >= {"HubClient", "load_component", "errors"}
    assert hub_cli.errors.HubError is errors.HubError
    assert callable(hub_cli.load_component)
    with pytest.raises(AttributeError):
        _ = hub_cli.nothing_here  # type: ignore[attr-defined]


def test_the_injected_client_is_used_as_is(client: TestClient) -> None:
    sdk = HubClient(http_client=client)

    assert sdk.url == "http://testserver"
    assert sdk.health() == {"status": "ok"}
    sdk.close()
    assert client.get("/healthz").status_code == 200, "an injected client is never closed"


def test_reads_list_get_and_resolve(hub: HubClient, published: Publish) -> None:
    page = hub.list_components("train", tags=["xgboost"], hardware="gpu")
    component = hub.get_component("alice/train")
    versions = hub.list_versions("alice/train")

    assert page.total == 1
    assert isinstance(page.items[0], ComponentInfo)
    assert page.items[0].id == "alice/train"
    assert page.items[0].has_gpu
    assert component.latest_version == "1.1.0"
    assert component.latest is not None
    assert component.latest.hardware["default"] == "cpu"
    assert [v.version for v in versions] == ["2.0.0-rc.1", "1.1.0", "1.0.0"]
    assert versions[0].prerelease
    assert not versions[0].yanked
    assert hub.resolve("alice/train@^1.0").version == "1.1.0"
    assert hub.resolve("alice/train@~1.0.0").version == "1.0.0"
    assert hub.resolve("alice/train").version == "1.1.0"
    assert hub.resolve("alice/train@>=2.0.0-rc.0").version == "2.0.0-rc.1"
    exact = hub.get_version("alice/train@1.0.0")
    assert isinstance(exact, VersionInfo)
    assert exact.ref == "alice/train@1.0.0"
    assert hub.resolve(f"alice/train@{exact.digest}").version == "1.0.0"
    assert {i["name"] for i in exact.interface["inputs"]} == {"data", "epochs", "device"}


def test_archive_and_component_yaml_downloads(
    hub: HubClient, alice: dict[str, str], publish: Publish, tmp_path: Path
) -> None:
    folder = make_package(tmp_path / "src", version="1.2.3")
    data = pack(folder)
    assert publish("alice", alice, version="1.2.3").status_code == 201
    target = tmp_path / "archive.tar.gz"

    with target.open("wb") as handle:
        etag = hub.download_archive("alice/train", "1.2.3", handle)
    spec = hub.get_component_yaml("alice/train", "1.2.3")

    assert digest(target.read_bytes()) == digest(data) == etag
    assert spec == (folder / "component.yaml").read_text()


def test_publish_fork_yank_and_accounts(client: TestClient, hub: HubClient, tmp_path: Path) -> None:
    progress: list[tuple[int, int]] = []
    folder = make_package(tmp_path, name="prep", version="0.3.0")

    version = hub.publish_folder(
        folder, progress=lambda sent, total: progress.append((sent, total))
    )
    forked = HubClient(http_client=client, token=ADMIN_TOKEN).fork("alice/prep", "team", "prep2")
    yanked = hub.yank("alice/prep", "0.3.0", "broken output")
    unyanked = hub.unyank("alice/prep", "0.3.0")
    me = hub.whoami()
    token = hub.create_token("laptop")

    assert version.ref == "alice/prep@0.3.0", "the namespace defaults to the caller's own"
    assert progress
    assert progress[-1][0] == progress[-1][1] == version.size
    assert forked.id == "team/prep2"
    assert forked.parent is not None
    assert forked.parent.ref == "alice/prep@0.3.0"
    assert forked.parent.digest == version.digest
    assert yanked.yanked
    assert yanked.yanked_reason == "broken output"
    assert not unyanked.yanked
    assert me.name == "alice"
    assert me.namespaces == ["alice"]
    assert HubClient(http_client=client, token=token.token).whoami().name == "alice"


def test_admin_creates_users(client: TestClient) -> None:
    admin = HubClient(http_client=client, token=ADMIN_TOKEN)

    created = admin.create_user("carol")

    assert created.user == "carol"
    assert HubClient(http_client=client, token=created.token).whoami().name == "carol"
    with pytest.raises(errors.ConflictError):
        admin.create_user("carol")
    with pytest.raises(errors.PermissionDeniedError):
        HubClient(http_client=client, token=created.token).create_user("dave")


@pytest.mark.parametrize(
    ("call", "error", "code"),
    [
        (lambda h: h.get_component("alice/nothing"), errors.ComponentNotFoundError, None),
        (lambda h: h.get_version("alice/train@9.9.9"), errors.VersionNotFoundError, None),
        (lambda h: h.resolve("alice/train@^7"), errors.NoMatchingVersionError, None),
        (
            lambda h: h.list_components(category="cooking"),
            errors.BadRequestError,
            "invalid_request",
        ),
        (
            lambda h: [h.fork("alice/train", "alice", "copy") for _ in range(2)],
            errors.ComponentExistsError,
            "component_exists",
        ),
    ],
)
def test_hub_error_codes_become_typed_exceptions(
    hub: HubClient, published: Publish, call: object, error: type[Exception], code: str | None
) -> None:
    with pytest.raises(error) as caught:
        call(hub)  # type: ignore[operator]

    assert isinstance(caught.value, errors.HubHTTPError)
    assert caught.value.request_id
    if code:
        assert caught.value.code == code


def test_auth_errors_tell_no_token_from_a_bad_one(
    client: TestClient,
    anonymous: HubClient,
    tmp_path: Path,
    alice: dict[str, str],
    bob: dict[str, str],
) -> None:
    folder = make_package(tmp_path)

    with pytest.raises(errors.AuthenticationError) as no_token:
        anonymous.publish_folder(folder, namespace="alice")
    with pytest.raises(errors.AuthenticationError) as bad_token:
        HubClient(http_client=client, token="hub_not-a-real-token").whoami()
    with pytest.raises(errors.PermissionDeniedError):
        HubClient(http_client=client, token=token_of(bob)).publish_folder(folder, namespace="alice")

    assert not no_token.value.token_sent
    assert bad_token.value.token_sent
    assert bad_token.value.status_code == 401


def test_a_refused_package_lists_its_problems(hub: HubClient, tmp_path: Path) -> None:
    folder = make_package(
        tmp_path,
        hardware={"default": "gpu", "variants": {"gpu": {"resources": {"memory": "lots"}}}},
    )

    with pytest.raises(errors.PackageRejectedError) as caught:
        hub.publish_folder(folder)

    assert isinstance(caught.value, errors.InvalidPackageError)
    assert caught.value.code == "invalid_manifest"
    assert caught.value.problems[0]["field"] == "hardware.variants.gpu.resources.memory"


def test_publishing_a_version_twice_is_a_conflict(hub: HubClient, tmp_path: Path) -> None:
    folder = make_package(tmp_path)
    hub.publish_folder(folder)

    with pytest.raises(errors.VersionExistsError):
        hub.publish_folder(folder)


def test_a_malformed_reference_is_refused_before_any_request(anonymous: HubClient) -> None:
    for bad in ("train", "Alice/train", "alice/train@", "alice/train@^^1", "alice/train@sha256:1"):
        with pytest.raises(errors.InvalidReferenceError):
            anonymous.resolve(bad)


def test_a_url_that_is_not_a_url_is_a_config_error() -> None:
    with pytest.raises(errors.ConfigError, match="not a hub URL"):
        HubClient(url="localhost:8000")


def test_nothing_listening_is_a_connection_error_after_retries() -> None:
    attempts: list[httpx.Request] = []
    http = httpx.Client(event_hooks={"request": [attempts.append]})
    sdk = HubClient(url=f"http://127.0.0.1:{free_port()}", http_client=http, backoff=0.01)

    with pytest.raises(errors.HubConnectionError, match="cannot reach the hub"):
        sdk.resolve("alice/train")
    with pytest.raises(errors.HubConnectionError):
        sdk.create_token()

    assert len(attempts) == 1 + 1 + 1, "GET retried once (HUB_MAX_RETRIES=1), POST never"
    http.close()


def test_a_503_is_retried_with_backoff_then_raised(tmp_path: Path) -> None:
    # The real app answers /readyz with 503 when its database cannot be reached.
    settings = Settings(data_dir=tmp_path, database_url="postgresql://nobody@127.0.0.1:1/none")
    attempts: list[httpx.Request] = []
    with TestClient(create_app(settings)) as client:
        client.event_hooks["request"].append(attempts.append)
        sdk = HubClient(http_client=client, max_retries=2, backoff=0.01)

        with pytest.raises(errors.ServerError) as caught:
            sdk.ready()

    assert caught.value.status_code == 503
    assert len(attempts) == 3


@pytest.fixture
def plain_web_server(tmp_path: Path) -> Iterator[str]:
    """Some other web server (not a hub): answers 404 pages in HTML."""
    root = tmp_path / "www"
    root.mkdir()

    class Quiet(SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(root), **kwargs)  # type: ignore[arg-type]

        def log_message(self, format: str, *args: object) -> None:
            pass

    page = root / "api" / "v1" / "components" / "alice" / "page" / "resolve"
    page.parent.mkdir(parents=True)
    page.write_text("<html>a web page</html>")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_url_that_is_no_hub_says_so(plain_web_server: str, client: TestClient) -> None:
    with pytest.raises(errors.NotFoundError, match="is that a Component Hub URL"):
        HubClient(url=plain_web_server).resolve("alice/train")
    with pytest.raises(errors.HubHTTPError, match="not JSON: is that a Component Hub URL"):
        HubClient(url=plain_web_server).resolve("alice/page")
    with pytest.raises(errors.NotFoundError, match="is that the hub's base URL"):
        HubClient(url="http://testserver/docs", http_client=client).resolve("alice/train")
