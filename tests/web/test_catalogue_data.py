"""The data behind the catalogue, through the JSON API and the service: pull counters, README
search, hardware facts and their filters, and the 0002 migration that adds them."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import sqlalchemy as sa
from alembic import command
from fastapi.testclient import TestClient
from sqlmodel import Session

from hub_server.db import alembic_config, make_engine, migrate
from hub_server.services.components import ComponentService
from hub_server.settings import Settings

API = "/api/v1/components"
Publish = Callable[..., httpx.Response]


def _ok(response: httpx.Response) -> httpx.Response:
    assert response.status_code in (200, 201), response.text
    return response


def _names(client: TestClient, **params: object) -> list[str]:
    response = client.get(API, params=params)
    assert response.status_code == 200, response.text
    return [f"{c['namespace']}/{c['name']}" for c in response.json()["items"]]


# ----------------------------------------------------------------------------- pulls


def test_archive_and_component_yaml_downloads_count_as_pulls(
    client: TestClient, alice: dict[str, str], publish: Publish
) -> None:
    _ok(publish("alice", alice, version="1.0.0"))
    _ok(publish("alice", alice, version="1.1.0"))
    base = f"{API}/alice/train/versions"

    etag = client.get(f"{base}/1.0.0/archive").headers["etag"]
    client.get(f"{base}/1.0.0/component.yaml")
    client.get(f"{base}/1.1.0/archive")
    cached = client.get(f"{base}/1.0.0/archive", headers={"If-None-Match": etag})

    assert cached.status_code == 304  # a revalidation transfers nothing: not a pull
    versions = {v["version"]: v["pulls"] for v in client.get(f"{API}/alice/train/versions").json()}
    assert versions == {"1.1.0": 1, "1.0.0": 2}
    assert client.get(f"{API}/alice/train").json()["pulls"] == 3
    assert client.get(f"{base}/1.0.0").json()["pulls"] == 2


def test_a_missing_version_counts_nothing(
    client: TestClient, alice: dict[str, str], publish: Publish
) -> None:
    _ok(publish("alice", alice))

    assert client.get(f"{API}/alice/train/versions/9.9.9/archive").status_code == 404
    assert client.get(f"{API}/alice/train").json()["pulls"] == 0


def test_concurrent_pulls_are_all_counted(
    client: TestClient, alice: dict[str, str], publish: Publish, settings: Settings
) -> None:
    _ok(publish("alice", alice))
    engine = make_engine(settings.resolved_database_url)

    def pull(_: int) -> None:
        with Session(engine) as session:
            service = ComponentService(session, storage=None, limits=None)  # type: ignore[arg-type]
            service.record_pull("alice", "train", "1.0.0")

    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(pull, range(40)))
    finally:
        engine.dispose()

    assert client.get(f"{API}/alice/train").json()["pulls"] == 40
    assert client.get(f"{API}/alice/train/versions/1.0.0").json()["pulls"] == 40


def test_forks_start_with_no_pulls_and_sort_by_pulls(
    client: TestClient, alice: dict[str, str], bob: dict[str, str], publish: Publish
) -> None:
    _ok(publish("alice", alice, name="popular"))
    _ok(publish("alice", alice, name="quiet"))
    for _ in range(2):
        client.get(f"{API}/alice/popular/versions/1.0.0/archive")
    _ok(client.post(f"{API}/alice/popular/fork", json={"namespace": "bob"}, headers=bob))

    assert client.get(f"{API}/bob/popular").json()["pulls"] == 0
    assert client.get(f"{API}/bob/popular/versions/1.0.0").json()["pulls"] == 0
    assert _names(client, sort="pulls") == ["alice/popular", "bob/popular", "alice/quiet"]


# ----------------------------------------------------------------------------- search


def test_search_covers_the_readme_and_ranks_names_first(
    client: TestClient, alice: dict[str, str], publish: Publish
) -> None:
    _ok(publish("alice", alice, name="lightgbm-train", readme="# Train\n\nA GBM.\n"))
    _ok(publish("alice", alice, name="other", readme="# Other\n\nCompare with LightGBM.\n"))
    _ok(publish("alice", alice, name="unrelated", readme="# Nothing\n\nAt all.\n"))

    assert _names(client, q="lightgbm") == ["alice/lightgbm-train", "alice/other"]
    assert _names(client, q="compare") == ["alice/other"]
    assert _names(client, q="lightgbm", sort="name") == ["alice/lightgbm-train", "alice/other"]


def test_search_follows_the_latest_version(
    client: TestClient, alice: dict[str, str], publish: Publish
) -> None:
    _ok(publish("alice", alice, version="1.0.0", readme="# V1\n\nuses alphasearch\n"))
    _ok(publish("alice", alice, version="2.0.0", readme="# V2\n\nuses betasearch\n"))

    assert _names(client, q="alphasearch") == []
    assert _names(client, q="betasearch") == ["alice/train"]
    _ok(
        client.post(
            f"{API}/alice/train/versions/2.0.0/yank", json={"reason": "broken"}, headers=alice
        )
    )
    assert _names(client, q="alphasearch") == ["alice/train"]
    assert _names(client, q="betasearch") == []


def test_search_folds_case_and_accents(
    client: TestClient, alice: dict[str, str], publish: Publish
) -> None:
    _ok(publish("alice", alice, readme="# Données\n\nPrépare les DONNÉES.\n"))

    assert _names(client, q="donnees") == ["alice/train"]
    assert _names(client, q="DONNÉES prépare") == ["alice/train"]
    assert _names(client, q="donnees absent") == []


def test_a_fork_is_found_under_its_own_namespace(
    client: TestClient, alice: dict[str, str], bob: dict[str, str], publish: Publish
) -> None:
    _ok(publish("alice", alice))
    _ok(client.post(f"{API}/alice/train/fork", json={"namespace": "bob"}, headers=bob))

    assert _names(client, q="bob train") == ["bob/train"]


# ----------------------------------------------------------------------------- hardware


@pytest.fixture
def hardware_catalogue(client: TestClient, alice: dict[str, str], publish: Publish) -> TestClient:
    _ok(publish("alice", alice, name="default-hw"))  # cpu 8Gi, gpu t4 16Gi
    _ok(
        publish(
            "alice",
            alice,
            name="tpu",
            hardware={
                "default": "tpu",
                "variants": {
                    "tpu": {
                        "resources": {"limits": {"memory": "32Gi"}},
                        "accelerator": {"type": "google.com/tpu", "count": 4, "model": "v5e"},
                    }
                },
            },
        )
    )
    _ok(
        publish(
            "alice",
            alice,
            name="tiny",
            hardware={"default": "cpu", "variants": {"cpu": {"resources": {"memory": "512Mi"}}}},
        )
    )
    _ok(
        publish(
            "alice", alice, name="unsized", hardware={"default": "cpu", "variants": {"cpu": {}}}
        )
    )
    return client


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"accelerator": "nvidia-tesla-t4"}, ["alice/default-hw"]),
        ({"accelerator": "v5e"}, ["alice/tpu"]),
        ({"accelerator": "v5e", "hardware": "cpu"}, []),
        ({"max_memory": "1Gi"}, ["alice/unsized", "alice/tiny"]),
        ({"max_memory": "536870912"}, ["alice/unsized", "alice/tiny"]),  # plain bytes
        ({"max_memory": "500M"}, ["alice/unsized"]),  # 512Mi is more than 500M
        ({"max_memory": "32Gi", "hardware": "gpu"}, ["alice/tpu", "alice/default-hw"]),
        # The limit counts when there is no request: Kubernetes then requests the limit.
        ({"max_memory": "31Gi", "hardware": "gpu"}, ["alice/default-hw"]),
        ({"max_memory": "8Gi", "hardware": "gpu"}, []),
        (
            {"max_memory": "8Gi", "hardware": "cpu"},
            ["alice/unsized", "alice/tiny", "alice/default-hw"],
        ),
    ],
)
def test_hardware_filters(
    hardware_catalogue: TestClient, params: dict[str, str], expected: list[str]
) -> None:
    assert _names(hardware_catalogue, **params) == expected


def test_a_bad_memory_filter_is_400(hardware_catalogue: TestClient) -> None:
    response = hardware_catalogue.get(API, params={"max_memory": "lots"})

    assert response.status_code == 400
    assert response.json()["error"]["detail"]["field"] == "max_memory"


def test_hardware_facts_follow_the_latest_version(
    client: TestClient, alice: dict[str, str], publish: Publish
) -> None:
    _ok(publish("alice", alice, version="1.0.0"))  # has a T4 variant
    _ok(
        publish(
            "alice",
            alice,
            version="2.0.0",
            hardware={"default": "cpu", "variants": {"cpu": {"resources": {"memory": "1Gi"}}}},
        )
    )

    assert _names(client, accelerator="nvidia-tesla-t4") == []
    assert _names(client, max_memory="1Gi") == ["alice/train"]


def test_a_gpu_search_follows_the_latest_versions_hardware(
    client: TestClient, alice: dict[str, str], publish: Publish, settings: Settings
) -> None:
    """A ``hardware=gpu`` search reads the GPU components' postings (``ix_search_terms_gpu``):
    the terms a component keeps from one version to the next must follow its hardware."""
    cpu = {"default": "cpu", "variants": {"cpu": {"resources": {"memory": "1Gi"}}}}
    readme = "# Train\n\nFits a zebrafish model.\n"
    _ok(publish("alice", alice, version="1.0.0", hardware=cpu, readme=readme))
    assert _names(client, q="zebrafish", hardware="gpu") == []

    _ok(publish("alice", alice, version="2.0.0", readme=readme))  # a T4 variant, same text
    assert _names(client, q="zebrafish", hardware="gpu") == ["alice/train"]
    assert _names(client, q="zebra", hardware="gpu") == ["alice/train"]  # a prefix
    assert _names(client, q="train zebrafish", hardware="gpu") == ["alice/train"]
    _ok(client.post(f"{API}/alice/train/versions/2.0.0/yank", json={"reason": "x"}, headers=alice))
    assert _names(client, q="zebrafish", hardware="gpu") == []
    assert _names(client, q="zebrafish", hardware="cpu") == ["alice/train"]

    engine = make_engine(settings.resolved_database_url)
    try:
        with engine.connect() as conn:
            flags = conn.execute(sa.text("SELECT DISTINCT has_gpu FROM search_terms")).all()
    finally:
        engine.dispose()
    assert [bool(flag) for (flag,) in flags] == [False]


def test_fork_filters(
    client: TestClient, alice: dict[str, str], bob: dict[str, str], publish: Publish
) -> None:
    _ok(publish("alice", alice))
    _ok(publish("alice", alice, name="other"))
    _ok(client.post(f"{API}/alice/train/fork", json={"namespace": "bob"}, headers=bob))

    assert _names(client, fork_of="alice/train") == ["bob/train"]
    assert _names(client, fork_of="alice/other") == []
    assert _names(client, fork_of="nobody/none") == []
    assert _names(client, fork="true") == ["bob/train"]
    assert _names(client, fork="false") == ["alice/other", "alice/train"]


def test_components_report_cpu_only_variants(
    client: TestClient, alice: dict[str, str], publish: Publish
) -> None:
    _ok(publish("alice", alice))

    body = client.get(f"{API}/alice/train").json()

    assert body["has_cpu_only"] is True
    assert body["has_gpu"] is True


# ----------------------------------------------------------------------------- migration


def test_migration_0002_indexes_what_0001_stored(database_url: str) -> None:
    """Downgrade to 0001, store a component as 0001 knew it, upgrade: it is searchable and
    has its hardware facts; and the migration goes down and up again cleanly."""
    engine = make_engine(database_url)
    config = alembic_config(database_url)
    manifest = {
        "name": "old",
        "version": "1.0.0",
        "description": "Legacy trainer",
        "category": "training",
        "tags": ["legacy"],
        "license": "MIT",
        "authors": ["a"],
        "hardware": {
            "default": "gpu",
            "variants": {
                "gpu": {
                    "resources": {"memory": "2Gi"},
                    "accelerator": {"type": "nvidia.com/gpu", "model": "nvidia-l4"},
                }
            },
        },
    }
    try:
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0001")
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO namespaces VALUES ('legacy', CURRENT_TIMESTAMP)"))
            conn.execute(
                sa.text(
                    "INSERT INTO components (namespace, name, description, category, tags, "
                    "search_text, latest_version, versions_count, hardware_variants, has_gpu, "
                    "has_cpu_only, forks_count, created_at, updated_at) VALUES ('legacy', 'old', "
                    "'Legacy trainer', 'training', '[\"legacy\"]', '', '1.0.0', 1, '[\"gpu\"]', "
                    "TRUE, FALSE, 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                )
            )
            conn.execute(
                sa.text(
                    "INSERT INTO versions (component_id, version, major, minor, patch, "
                    "prerelease, digest, size, manifest, interface, spec_yaml, readme, images, "
                    "image_pinned, published_at, yanked) SELECT id, '1.0.0', 1, 0, 0, '', "
                    "'sha256:00', 1, :manifest, '{}', '', '# Old\n\nQuasicrystal solver.', "
                    "'[]', FALSE, CURRENT_TIMESTAMP, FALSE FROM components"
                ).bindparams(sa.bindparam("manifest", manifest, type_=sa.JSON)),
            )
        migrate(engine)
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT term, weight FROM search_terms")).all()
            terms = {str(term): int(weight) for term, weight in rows}
            gpu_flags = conn.execute(sa.text("SELECT DISTINCT has_gpu FROM search_terms")).all()
            variants = conn.execute(
                sa.text("SELECT variant, accelerator_model, memory_bytes FROM component_variants")
            ).all()
            pulls = conn.execute(sa.text("SELECT pulls FROM components")).scalar()
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0001")
        migrate(engine)
    finally:
        engine.dispose()

    assert terms["quasicrystal"] == 1  # README
    assert terms["legacy"] == 8  # a tag outweighs the namespace
    assert terms["old"] == 16  # the name
    assert variants == [("gpu", "nvidia-l4", 2 * 2**30)]
    assert [bool(flag) for (flag,) in gpu_flags] == [True]  # its terms are a GPU component's
    assert pulls == 0
