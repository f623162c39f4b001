"""hub_server.seed: the built-ins are published once, then left alone, and never overwritten."""

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hub_server.db import make_engine, migrate
from hub_server.seed import SeedError, SeedStatus, seed_builtin_components
from hub_server.settings import Settings
from tests.components.conftest import COMPONENTS_DIR, PACKAGE_NAMES
from tests.conftest import ADMIN_TOKEN, blob_count

API = "/api/v1/components"


def _copy(tmp_path: Path) -> Path:
    """A private copy of components/ to change."""
    target = tmp_path / "components"
    shutil.copytree(COMPONENTS_DIR, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def _names(client: TestClient, **filters: str) -> list[str]:
    response = client.get(API, params={"namespace": "library", "sort": "name", **filters})
    assert response.status_code == 200, response.text
    return [item["name"] for item in response.json()["items"]]


def _bump(folder: Path, version: str) -> None:
    manifest = folder / "hub.yaml"
    manifest.write_text(manifest.read_text().replace("version: 1.0.0", f"version: {version}"))


def test_first_run_publishes_the_six_and_a_restart_changes_nothing(
    settings: Settings, client: TestClient
) -> None:
    first = seed_builtin_components(settings, COMPONENTS_DIR)

    assert [r.name for r in first] == PACKAGE_NAMES
    assert {r.status for r in first} == {SeedStatus.PUBLISHED}
    assert {r.ref for r in first} == {f"library/{name}@1.0.0" for name in PACKAGE_NAMES}
    assert _names(client) == PACKAGE_NAMES
    # The catalogue's filters find them.
    assert _names(client, category="training") == ["train-sklearn", "train-xgboost"]
    assert _names(client, category="data-ingestion") == ["load-dataset"]
    assert _names(client, hardware="gpu") == ["train-xgboost"]
    assert _names(client, tag="xgboost") == ["evaluate-model", "train-xgboost"]
    assert _names(client, q="confusion matrix") == ["evaluate-model", "visualize-performance"]
    version = client.get(f"{API}/library/train-xgboost/versions/1.0.0").json()
    assert version["digest"] == first[PACKAGE_NAMES.index("train-xgboost")].digest
    assert version["publisher"] == "admin"
    gpu = version["hardware"]["variants"]["gpu"]
    assert gpu["accelerator"] == {"type": "nvidia.com/gpu", "count": 1, "model": "nvidia-tesla-t4"}
    assert gpu["arguments"] == {"device": "cuda"}
    spec = client.get(f"{API}/library/split-data/versions/1.0.0/component.yaml")
    assert spec.text == (COMPONENTS_DIR / "split-data" / "component.yaml").read_text()
    blobs = blob_count(settings)
    assert blobs == 6

    again = seed_builtin_components(settings, COMPONENTS_DIR)

    assert {r.status for r in again} == {SeedStatus.UNCHANGED}
    assert [r.digest for r in again] == [r.digest for r in first]
    assert blob_count(settings) == blobs
    for name in PACKAGE_NAMES:
        versions = client.get(f"{API}/library/{name}/versions").json()
        assert [v["version"] for v in versions] == ["1.0.0"]


def test_a_changed_package_without_a_version_bump_is_an_error_that_stores_nothing(
    settings: Settings, client: TestClient, tmp_path: Path
) -> None:
    components = _copy(tmp_path)
    seed_builtin_components(settings, components)
    blobs = blob_count(settings)
    readme = components / "split-data" / "README.md"
    readme.write_text(readme.read_text() + "\nA late edit.\n")
    # A legitimate bump in the same run is held back too: nothing is stored.
    _bump(components / "load-dataset", "1.0.1")

    with pytest.raises(SeedError) as caught:
        seed_builtin_components(settings, components)

    message = str(caught.value)
    assert "library/split-data@1.0.0 is already published" in message
    assert "bump 'version'" in message
    assert str(components / "split-data" / "hub.yaml") in message
    assert caught.value.problems == [p for p in caught.value.problems if "split-data" in p]
    assert blob_count(settings) == blobs
    versions = client.get(f"{API}/library/load-dataset/versions").json()
    assert [v["version"] for v in versions] == ["1.0.0"]
    served = client.get(f"{API}/library/split-data/versions/1.0.0/archive")
    assert b"A late edit" not in served.content  # still the original bytes


def test_a_new_version_is_published_next_to_the_old(
    settings: Settings, client: TestClient, tmp_path: Path
) -> None:
    components = _copy(tmp_path)
    seed_builtin_components(settings, components)
    readme = components / "load-dataset" / "README.md"
    readme.write_text(readme.read_text() + "\nMore examples.\n")
    _bump(components / "load-dataset", "1.1.0")

    results = {r.name: r for r in seed_builtin_components(settings, components)}

    assert results["load-dataset"].status == SeedStatus.PUBLISHED
    assert results["load-dataset"].version == "1.1.0"
    assert {r.status for n, r in results.items() if n != "load-dataset"} == {SeedStatus.UNCHANGED}
    versions = client.get(f"{API}/library/load-dataset/versions").json()
    assert [v["version"] for v in versions] == ["1.1.0", "1.0.0"]
    resolved = client.get(f"{API}/library/load-dataset/resolve", params={"spec": "^1.0"})
    assert resolved.json()["version"] == "1.1.0"


def test_an_invalid_package_stops_the_seeding(
    settings: Settings, client: TestClient, tmp_path: Path
) -> None:
    components = _copy(tmp_path)
    manifest = components / "train-xgboost" / "hub.yaml"
    manifest.write_text(manifest.read_text().replace("{device: cuda}", "{gpu_device: cuda}"))

    with pytest.raises(SeedError, match=r"library/train-xgboost .* is not a valid package"):
        seed_builtin_components(settings, components)

    assert _names(client) == []
    assert blob_count(settings) == 0


def test_the_administrator_comes_from_auth_service(tmp_path: Path) -> None:
    """Without one, seeding needs HUB_ADMIN_TOKEN; it never mints a token nobody sees."""
    fresh = Settings(data_dir=tmp_path / "data", log_format="text")
    engine = make_engine(fresh.resolved_database_url)
    try:
        migrate(engine)
    finally:
        engine.dispose()

    with pytest.raises(SeedError, match="bootstrap the administrator first"):
        seed_builtin_components(fresh, COMPONENTS_DIR)

    with_token = Settings(data_dir=tmp_path / "data", admin_token=ADMIN_TOKEN, log_format="text")
    results = seed_builtin_components(with_token, COMPONENTS_DIR, namespace="builtins")
    assert {r.ref for r in results} == {f"builtins/{name}@1.0.0" for name in PACKAGE_NAMES}


def test_a_missing_folder_is_an_error(settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(SeedError, match="is not a directory"):
        seed_builtin_components(settings, tmp_path / "nowhere")
