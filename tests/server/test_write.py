"""Yank, fork, and who may write where."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from fastapi.testclient import TestClient

from hub_server.settings import Settings
from tests.conftest import blob_count

Publish = Callable[..., httpx.Response]
API = "/api/v1/components"


def _ok(response: httpx.Response, status: int = 201) -> dict:  # type: ignore[type-arg]
    assert response.status_code == status, response.text
    return response.json()  # type: ignore[no-any-return]


@pytest.fixture
def released(client: TestClient, alice: dict[str, str], publish: Publish) -> TestClient:
    for version in ["1.0.0", "1.1.0", "1.2.0"]:
        _ok(publish("alice", alice, version=version))
    return client


# ----------------------------------------------------------------------------- yank


def test_yanked_version_never_wins_a_range_but_downloads_by_exact_version(
    released: TestClient, alice: dict[str, str]
) -> None:
    yank = f"{API}/alice/train/versions/1.2.0/yank"
    body = _ok(released.post(yank, json={"reason": "wrong labels"}, headers=alice), 200)

    assert body["yanked"] is True
    assert body["yanked_reason"] == "wrong labels"
    assert body["yanked_at"]
    resolve = released.get(f"{API}/alice/train/resolve", params={"spec": "^1"})
    assert resolve.json()["version"] == "1.1.0"
    assert released.get(f"{API}/alice/train/resolve", params={"spec": "1.2.0"}).status_code == 200
    assert released.get(f"{API}/alice/train/versions/1.2.0/archive").status_code == 200
    component = released.get(f"{API}/alice/train").json()
    assert component["latest_version"] == "1.1.0"
    listed = {v["version"]: v for v in released.get(f"{API}/alice/train/versions").json()}
    assert listed["1.2.0"]["yanked"] is True
    assert listed["1.2.0"]["yanked_reason"] == "wrong labels"

    body = _ok(released.delete(yank, headers=alice), 200)

    assert body["yanked"] is False
    assert body["yanked_reason"] is None
    resolve = released.get(f"{API}/alice/train/resolve", params={"spec": "^1"})
    assert resolve.json()["version"] == "1.2.0"


def test_when_everything_is_yanked_nothing_resolves(
    released: TestClient, alice: dict[str, str]
) -> None:
    for version in ["1.0.0", "1.1.0", "1.2.0"]:
        _ok(
            released.post(
                f"{API}/alice/train/versions/{version}/yank", json={"reason": "bad"}, headers=alice
            ),
            200,
        )

    response = released.get(f"{API}/alice/train/resolve")

    assert response.json()["error"]["code"] == "no_matching_version"
    assert released.get(f"{API}/alice/train").json()["latest_version"] is None


def test_yank_needs_a_reason(released: TestClient, alice: dict[str, str]) -> None:
    response = released.post(f"{API}/alice/train/versions/1.0.0/yank", json={}, headers=alice)

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


@pytest.mark.parametrize(
    ("who", "status", "code"),
    [(None, 401, "unauthenticated"), ("bob", 403, "forbidden"), ("admin", 200, None)],
)
def test_only_owners_and_admins_yank(
    released: TestClient,
    bob: dict[str, str],
    admin: dict[str, str],
    who: str | None,
    status: int,
    code: str | None,
) -> None:
    headers = {"bob": bob, "admin": admin}.get(who or "", {})

    response = released.post(
        f"{API}/alice/train/versions/1.0.0/yank", json={"reason": "x"}, headers=headers
    )

    assert response.status_code == status
    if code:
        assert response.json()["error"]["code"] == code
        assert released.get(f"{API}/alice/train/versions/1.0.0").json()["yanked"] is False


def test_yank_unknown_version(released: TestClient, alice: dict[str, str]) -> None:
    response = released.post(
        f"{API}/alice/train/versions/9.0.0/yank", json={"reason": "x"}, headers=alice
    )

    assert response.json()["error"]["code"] == "version_not_found"


# ----------------------------------------------------------------------------- fork


def test_fork_copies_every_version_sharing_blobs_and_records_the_parent(
    released: TestClient, bob: dict[str, str], settings: Settings
) -> None:
    blobs = blob_count(settings)
    parent = released.get(f"{API}/alice/train/versions/1.2.0").json()

    fork = _ok(released.post(f"{API}/alice/train/fork", json={"namespace": "bob"}, headers=bob))

    assert (fork["namespace"], fork["name"]) == ("bob", "train")
    assert fork["parent"] == {"ref": "alice/train@1.2.0", "digest": parent["digest"]}
    assert fork["versions_count"] == 3
    assert fork["latest_version"] == "1.2.0"
    assert blob_count(settings) == blobs, "a fork shares blobs, it does not copy them"
    forked = released.get(f"{API}/bob/train/versions/1.1.0").json()
    original = released.get(f"{API}/alice/train/versions/1.1.0").json()
    assert forked["digest"] == original["digest"]
    assert forked["forked_from"] == {"ref": "alice/train@1.1.0", "digest": original["digest"]}
    assert (
        released.get(f"{API}/bob/train/versions/1.1.0/archive").content
        == released.get(f"{API}/alice/train/versions/1.1.0/archive").content
    )
    assert released.get(f"{API}/alice/train").json()["forks_count"] == 1
    resolved = released.get(f"{API}/bob/train/resolve", params={"spec": "~1.1"})
    assert resolved.json()["version"] == "1.1.0"


def test_fork_then_evolves_on_its_own(
    released: TestClient, bob: dict[str, str], publish: Publish
) -> None:
    _ok(
        released.post(
            f"{API}/alice/train/fork", json={"namespace": "bob", "name": "train-mine"}, headers=bob
        )
    )

    _ok(publish("bob", bob, name="train-mine", version="1.3.0", description="bob's"))

    assert released.get(f"{API}/bob/train-mine").json()["latest_version"] == "1.3.0"
    assert released.get(f"{API}/alice/train").json()["latest_version"] == "1.2.0"
    versions = [v["version"] for v in released.get(f"{API}/bob/train-mine/versions").json()]
    assert versions == ["1.3.0", "1.2.0", "1.1.0", "1.0.0"]
    alice_versions = released.get(f"{API}/alice/train/versions").json()
    assert len(alice_versions) == 3


def test_fork_one_version(released: TestClient, bob: dict[str, str]) -> None:
    fork = _ok(
        released.post(
            f"{API}/alice/train/fork", json={"namespace": "bob", "version": "1.0.0"}, headers=bob
        )
    )

    assert fork["versions_count"] == 1
    assert fork["parent"]["ref"] == "alice/train@1.0.0"
    assert [v["version"] for v in released.get(f"{API}/bob/train/versions").json()] == ["1.0.0"]


def test_fork_into_a_new_namespace_claims_it(
    released: TestClient, bob: dict[str, str], alice: dict[str, str]
) -> None:
    _ok(released.post(f"{API}/alice/train/fork", json={"namespace": "bobs-team"}, headers=bob))

    assert "bobs-team" in released.get("/api/v1/whoami", headers=bob).json()["namespaces"]
    stolen = released.post(
        f"{API}/alice/train/fork", json={"namespace": "bobs-team", "name": "x"}, headers=alice
    )
    assert stolen.status_code == 403


@pytest.mark.parametrize(
    ("body", "who", "status", "code"),
    [
        ({"namespace": "bob"}, None, 401, "unauthenticated"),
        ({"namespace": "alice", "name": "copy"}, "bob", 403, "forbidden"),
        ({"namespace": "alice"}, "alice", 400, "invalid_request"),
        ({"namespace": "bob", "version": "7.0.0"}, "bob", 404, "version_not_found"),
        ({"namespace": "Bad Name"}, "bob", 422, "validation_error"),
    ],
)
def test_fork_refusals(
    released: TestClient,
    alice: dict[str, str],
    bob: dict[str, str],
    body: dict[str, str],
    who: str | None,
    status: int,
    code: str,
) -> None:
    headers = {"alice": alice, "bob": bob}.get(who or "", {})

    response = released.post(f"{API}/alice/train/fork", json=body, headers=headers)

    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert released.get(f"{API}/alice/train").json()["forks_count"] == 0


def test_fork_onto_an_existing_component_is_409(released: TestClient, bob: dict[str, str]) -> None:
    _ok(released.post(f"{API}/alice/train/fork", json={"namespace": "bob"}, headers=bob))

    again = released.post(f"{API}/alice/train/fork", json={"namespace": "bob"}, headers=bob)

    assert again.status_code == 409
    assert again.json()["error"]["code"] == "component_exists"
    assert released.get(f"{API}/alice/train").json()["forks_count"] == 1


def test_fork_unknown_component(client: TestClient, bob: dict[str, str]) -> None:
    response = client.post(f"{API}/alice/nope/fork", json={"namespace": "bob"}, headers=bob)

    assert response.json()["error"]["code"] == "component_not_found"


# ----------------------------------------------------------------------------- auth


def test_publish_needs_a_token(client: TestClient, publish: Publish, settings: Settings) -> None:
    response = publish("alice", None)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"
    assert blob_count(settings) == 0


@pytest.mark.parametrize("header", ["Bearer hub_not-a-real-token", "Basic YWxpY2U6cHc=", "Bearer"])
def test_bad_tokens_are_401(client: TestClient, publish: Publish, header: str) -> None:
    response = publish("alice", {"Authorization": header})

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"


def test_someone_elses_namespace_is_403(
    client: TestClient,
    alice: dict[str, str],
    bob: dict[str, str],
    publish: Publish,
    settings: Settings,
) -> None:
    response = publish("alice", bob)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert blob_count(settings) == 0


def test_first_publish_claims_a_namespace(
    client: TestClient, alice: dict[str, str], bob: dict[str, str], publish: Publish
) -> None:
    _ok(publish("ml-team", alice, name="a"))

    assert publish("ml-team", bob, name="b").status_code == 403
    _ok(publish("ml-team", alice, name="b"))
    assert client.get("/api/v1/whoami", headers=alice).json()["namespaces"] == ["alice", "ml-team"]


def test_admins_write_anywhere(
    client: TestClient, alice: dict[str, str], admin: dict[str, str], publish: Publish
) -> None:
    _ok(publish("alice", admin, name="by-admin"))

    assert client.get(f"{API}/alice/by-admin/versions/1.0.0").json()["publisher"] == "admin"


def test_users_and_tokens(client: TestClient, admin: dict[str, str], alice: dict[str, str]) -> None:
    me = _ok(client.get("/api/v1/whoami", headers=alice), 200)
    assert me == {"name": "alice", "is_admin": False, "namespaces": ["alice"]}

    token = _ok(client.post("/api/v1/tokens", json={"name": "laptop"}, headers=alice))
    assert token["user"] == "alice"
    assert token["token"].startswith("hub_")
    again = client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {token['token']}"})
    assert again.json()["name"] == "alice"

    not_admin = client.post("/api/v1/users", json={"name": "eve"}, headers=alice)
    assert not_admin.status_code == 403
    duplicate = client.post("/api/v1/users", json={"name": "alice"}, headers=admin)
    assert duplicate.status_code == 409
    assert duplicate.json()["error"]["code"] == "user_exists"
    assert client.get("/api/v1/whoami").status_code == 401


def test_tokens_are_stored_only_as_hashes(
    client: TestClient, admin: dict[str, str], settings: Settings
) -> None:
    import sqlalchemy as sa

    token = _ok(client.post("/api/v1/users", json={"name": "carol"}, headers=admin))["token"]

    engine = sa.create_engine(
        settings.resolved_database_url.replace("postgresql://", "postgresql+psycopg://")
    )
    with engine.connect() as conn:
        rows = [r[0] for r in conn.execute(sa.text("SELECT token_hash FROM api_tokens"))]
    engine.dispose()
    assert token not in rows
    assert all(len(r) == 64 for r in rows)
