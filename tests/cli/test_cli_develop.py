"""hub init, validate, build and publish: a new package goes from scaffold to the hub as it is."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from hub_server.archive import digest, pack
from tests.cli.conftest import Cli, assert_one_error_line
from tests.factories import make_package


@pytest.fixture
def as_alice(monkeypatch: pytest.MonkeyPatch, alice_token: str) -> str:
    monkeypatch.setenv("HUB_TOKEN", alice_token)
    return alice_token


def test_init_scaffolds_a_package_that_validates_and_publishes_as_is(
    cli: Cli, as_alice: str, client: TestClient
) -> None:
    created = cli("init", "word-count", "--category", "preprocessing")
    folder = Path("word-count")
    validated = cli("validate", "word-count")
    published = cli("publish", "word-count")

    assert created.exit_code == 0, created.stderr
    assert sorted(p.name for p in folder.iterdir()) == [
        "Dockerfile",
        "README.md",
        "component.py",
        "component.yaml",
        "hub.yaml",
        "tests",
    ]
    assert {p.name for p in (folder / "tests").iterdir()} == {"smoke.yaml", "test_component.py"}
    spec = yaml.safe_load((folder / "component.yaml").read_text())
    assert spec["deploymentSpec"]["executors"]["exec-word-count"]["container"]["image"] == (
        "python:3.11-slim"
    ), "compiled by kfp from component.py"
    assert validated.exit_code == 0, validated.stdout + validated.stderr
    assert "is a valid package: word-count@0.1.0" in validated.stdout
    assert published.exit_code == 0, published.stderr
    assert "Published alice/word-count@0.1.0" in published.stdout
    assert f"digest {digest(pack(folder))}" in published.stdout
    version = client.get("/api/v1/components/alice/word-count/versions/0.1.0").json()
    assert version["category"] == "preprocessing"
    assert {i["name"] for i in version["interface"]["inputs"]} == {"message", "times"}
    # The image installs the kfp that compiled the spec (the spec's own pip step names it too).
    kfp_version = importlib.metadata.version("kfp")
    assert f'pip install --no-cache-dir "kfp=={kfp_version}"' in (folder / "Dockerfile").read_text()
    assert f"kfp=={kfp_version}" in (folder / "component.yaml").read_text()


def test_init_with_a_namespace_writes_it_into_hub_yaml(cli: Cli, tmp_path: Path) -> None:
    result = cli("init", "prep", "--namespace", "team", "--dir", str(tmp_path / "p"))

    assert result.exit_code == 0, result.stderr
    assert yaml.safe_load((tmp_path / "p" / "hub.yaml").read_text())["namespace"] == "team"


def test_init_refuses_bad_names_and_busy_folders(cli: Cli) -> None:
    Path("busy").mkdir()
    Path("busy", "keep.txt").write_text("mine")

    bad_name = cli("init", "Bad_Name")
    bad_category = cli("init", "ok", "--category", "cooking")
    busy = cli("init", "busy")

    assert_one_error_line(bad_name, 2, "NAME", "lowercase letters")
    assert_one_error_line(bad_category, 2, "--category", "training")
    assert_one_error_line(busy, 1, "exists and is not empty")
    assert Path("busy", "keep.txt").read_text() == "mine"


def test_validate_lists_every_problem_with_file_and_field(cli: Cli, tmp_path: Path) -> None:
    folder = make_package(
        tmp_path,
        readme=None,
        category="cooking",
        hardware={
            "default": "gpu",
            "variants": {
                "gpu": {"resources": {"memory": "lots"}, "arguments": {"colour": "blue"}},
            },
        },
    )

    result = cli("validate", str(folder))
    as_json = json.loads(cli("validate", str(folder), "--json").stdout)

    assert_one_error_line(result, 1, "is not a valid package: 3 problems")
    assert "hub.yaml: category:" in result.stdout
    assert "hub.yaml: hardware.variants.gpu.resources.memory:" in result.stdout
    assert "README.md: missing" in result.stdout
    assert {(p["file"], p["field"]) for p in as_json["problems"]} == {
        ("hub.yaml", "category"),
        ("hub.yaml", "hardware.variants.gpu.resources.memory"),
        ("README.md", None),
    }
    assert as_json["valid"] is False


def test_validate_checks_the_spec_and_variant_arguments(cli: Cli, tmp_path: Path) -> None:
    broken_spec = make_package(tmp_path / "a", spec="name: x\nimplementation: 3\n")
    bad_argument = make_package(
        tmp_path / "b",
        hardware={
            "default": "cpu",
            "variants": {"cpu": {"arguments": {"colour": "blue"}, "image": "Not An Image"}},
        },
    )

    spec_result = cli("validate", str(broken_spec))
    argument_result = cli("validate", str(bad_argument))

    assert_one_error_line(spec_result, 1, "1 problem")
    assert "component.yaml: component.yaml is not a valid KFP component spec" in (
        spec_result.stdout
    )
    assert "hub.yaml: hardware.variants.cpu.arguments.colour: the component has no input" in (
        argument_result.stdout
    )
    assert "hub.yaml: hardware.variants.cpu.image: 'Not An Image' is not an image" in (
        argument_result.stdout
    )


def test_validate_of_a_folder_without_hub_yaml(cli: Cli) -> None:
    result = cli("validate")

    assert_one_error_line(result, 1, "is not a valid package")
    assert "hub.yaml: missing" in result.stdout


def test_build_recompiles_component_py(cli: Cli) -> None:
    cli("init", "greet")
    source = Path("greet", "component.py")
    source.write_text(
        source.read_text().replace(
            "times: int = 1) -> str:", 'times: int = 1, sep: str = " ") -> str:'
        )
    )
    future = os.stat(source).st_mtime + 10
    os.utime(source, (future, future))
    stale = cli("validate", "greet")

    built = cli("build", "greet")

    spec = yaml.safe_load(Path("greet", "component.yaml").read_text())
    assert "component.py is newer than component.yaml: run `hub build`" in stale.stderr
    assert built.exit_code == 0, built.stderr
    assert "sep" in spec["root"]["inputDefinitions"]["parameters"]


def test_build_explains_a_broken_component_py(cli: Cli) -> None:
    cli("init", "greet")
    Path("greet", "component.py").write_text("import not_a_module_anywhere\n")

    assert_one_error_line(cli("build", "greet"), 1, "component.py failed to import")


def test_build_push_needs_an_image(cli: Cli) -> None:
    assert_one_error_line(cli("build", "--push"), 2, "--push needs --image")


def test_build_image_without_a_docker_engine_is_one_line(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cli("init", "greet")
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")

    result = cli("build", "greet", "--image", "registry.example/greet:0.1.0", "--push")

    assert_one_error_line(result, 1, "cannot reach a Docker engine", "no-docker.sock")
    assert "Compiled" in result.stdout, "the spec is compiled before the image is tried"


def test_publish_refuses_an_invalid_package_before_uploading(
    cli: Cli, as_alice: str, tmp_path: Path, client: TestClient
) -> None:
    folder = make_package(tmp_path, category="cooking")

    result = cli("publish", str(folder))

    assert_one_error_line(result, 1, "not a valid package: 1 problem")
    assert "hub.yaml: category:" in result.stderr
    assert client.get("/api/v1/components/alice/train").status_code == 404


def test_publish_twice_and_into_someone_elses_namespace(
    cli: Cli, as_alice: str, tmp_path: Path, bob: dict[str, str]
) -> None:
    folder = make_package(tmp_path)

    first = cli("publish", str(folder), "--json")
    again = cli("publish", str(folder))
    elsewhere = cli("publish", str(folder), "--namespace", "bob")

    assert json.loads(first.stdout)["namespace"] == "alice"
    assert_one_error_line(again, 1, "exists", "raise `version` in hub.yaml")
    assert_one_error_line(elsewhere, 1, "not allowed")


def test_publish_without_a_token_says_how_to_log_in(cli: Cli, tmp_path: Path) -> None:
    folder = make_package(tmp_path, namespace="alice")

    assert_one_error_line(cli("publish", str(folder)), 1, "needs a token", "hub login")


def test_the_scaffolds_own_smoke_test_passes(cli: Cli) -> None:
    cli("init", "greet")

    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=Path("greet"),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
