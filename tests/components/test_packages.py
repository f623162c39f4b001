"""Every folder in components/ is a package the hub accepts, built from its current source."""

import re
import shutil
from pathlib import Path

import pytest

from hub_server.archive import ArchiveLimits, digest, pack, unpack
from hub_server.packages import validate_package
from tests.components.conftest import (
    COMPONENTS_DIR,
    PACKAGE_NAMES,
    ROOT,
    load,
    load_build_module,
    pins,
)

build = load_build_module()
CATEGORIES = {
    "load-dataset": "data-ingestion",
    "split-data": "data-splitting",
    "train-sklearn": "training",
    "train-xgboost": "training",
    "evaluate-model": "evaluation",
    "visualize-performance": "visualization",
}
PACKAGE_FILES = {"hub.yaml", "component.yaml", "component.py", "README.md", "Dockerfile"}


def test_the_six_built_ins_are_there() -> None:
    assert sorted(CATEGORIES) == PACKAGE_NAMES
    assert [folder.name for folder in build.package_folders()] == PACKAGE_NAMES


@pytest.mark.parametrize("name", PACKAGE_NAMES)
def test_package_validates_as_the_hub_validates_it(name: str) -> None:
    folder = COMPONENTS_DIR / name
    data = pack(folder)

    package = validate_package(data, namespace="library", name=name, limits=ArchiveLimits())

    assert set(unpack(data)) == PACKAGE_FILES
    assert digest(pack(folder)) == package.digest  # deterministic
    manifest = package.manifest
    assert manifest.version == "1.0.0"
    assert manifest.namespace is None  # published under "library" by the seeder
    assert manifest.license == "Apache-2.0"
    assert manifest.category == CATEGORIES[name]
    assert manifest.authors
    assert len(manifest.tags) >= 5
    assert len(manifest.description) >= 150
    assert manifest.hardware.default == "cpu"
    for variant in manifest.hardware.variants.values():
        resources = variant.resources
        assert resources is not None
        assert resources.cpu
        assert resources.memory
        assert resources.limits is not None
        assert resources.limits.cpu
        assert resources.limits.memory
        assert variant.description
    assert package.interface["image"] == "python:3.11-slim"
    assert package.interface["name"] == name
    # kfp's compiler drops the docstring of output artifacts (the READMEs cover them), so
    # only inputs and output parameters can carry descriptions into the catalogue.
    ports = package.interface["inputs"] + [
        item for item in package.interface["outputs"] if not item["type"].startswith("system.")
    ]
    undocumented = [item["name"] for item in ports if not item["description"]]
    assert not undocumented


@pytest.mark.parametrize("name", PACKAGE_NAMES)
def test_component_yaml_is_what_the_compiler_makes_now(name: str) -> None:
    folder = COMPONENTS_DIR / name
    assert (folder / "component.yaml").read_text() == build.compile_component(folder), (
        f"components/{name}/component.yaml is stale: run .venv/bin/python components/build.py"
    )


@pytest.mark.parametrize("name", PACKAGE_NAMES)
def test_readme_documents_the_interface(name: str) -> None:
    readme = (COMPONENTS_DIR / name / "README.md").read_text()
    assert readme.startswith(f"# {name}\n")
    assert f'load_component("library/{name}@^1.0"' in readme
    assert "from hub_cli import load_component" in readme
    assert "## Hardware" in readme
    spec = load(name).component_spec
    for port in [*spec.inputs, *(spec.outputs or {})]:
        assert f"`{port}`" in readme, f"{name}/README.md does not mention {port!r}"


@pytest.mark.parametrize("name", PACKAGE_NAMES)
def test_dockerfile_installs_the_pinned_packages(name: str) -> None:
    dockerfile = (COMPONENTS_DIR / name / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", dockerfile, re.MULTILINE)
    installed = dict(re.findall(r"([A-Za-z0-9_.\-]+)==([0-9][^\s\"\\]*)", dockerfile))
    missing = {dist: v for dist, v in pins(name).items() if installed.get(dist) != v}
    assert not missing, f"{name}/Dockerfile does not install {missing}"
    assert "COPY component.py" in dockerfile


def test_the_venv_is_installed_with_the_components_pins() -> None:
    """``make install`` installs under ``constraints.txt``: it must pin exactly what the specs
    pin, or a fresh venv resolves a newer release (kfp 2.17.3 once the index carried its
    certifi), every spec kfp compiles there differs, and running a component pip-installs."""
    text = (ROOT / "constraints.txt").read_text()
    constrained = dict(re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+)$", text, re.MULTILINE))
    pinned = {dist: v for name in PACKAGE_NAMES for dist, v in pins(name).items()}
    assert constrained == pinned
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"pip install .*-c constraints\.txt .*-e '\.\[dev\]'", makefile)


@pytest.mark.parametrize("name", PACKAGE_NAMES)
def test_each_component_has_its_own_tests(name: str) -> None:
    assert (ROOT / "tests" / "components" / f"test_{name.replace('-', '_')}.py").is_file()


def test_build_recompiles_a_stale_spec(tmp_path: Path) -> None:
    folder = tmp_path / "split-data"
    shutil.copytree(COMPONENTS_DIR / "split-data", folder)
    assert not build.is_stale(folder)
    source = folder / "component.py"
    source.write_text(source.read_text().replace("Splits a CSV Dataset", "Splits a CSV table"))

    assert build.is_stale(folder)
    assert build.build(folder) is True
    assert "Splits a CSV table" in (folder / "component.yaml").read_text()
    assert not build.is_stale(folder)
    assert build.build(folder) is False
