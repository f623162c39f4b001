"""Package folders on disk: check them (``hub validate``), pack them, build them (``hub build``).

The checks are the hub's own: the manifest model and strict YAML loader of
``hub_server.manifest``/``hub_server.archive``, ``read_interface`` (kfp) for the spec, the
deterministic packer, and finally the hub's ``validate_package`` on the packed archive, so a
folder that passes here is one the hub accepts. Unlike the hub, which stops at the first
problem, :func:`check_package` reports every problem it can find at once.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hub_cli.errors import BuildError, DockerUnavailableError, InvalidPackageError

__all__ = [
    "PackageReport",
    "Problem",
    "build_image",
    "check_package",
    "compile_component",
    "pack_folder",
    "read_manifest_fields",
]

MANIFEST = "hub.yaml"
SOURCE = "component.py"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a package.

    Attributes:
        file: The file concerned, relative to the package folder.
        field: The field concerned (``hardware.variants.gpu.resources.memory``), if any.
        message: What is wrong.
    """

    file: str
    field: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.field}" if self.field else self.file
        return f"{where}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        """As JSON-ready data."""
        return {"file": self.file, "field": self.field, "message": self.message}


@dataclass
class PackageReport:
    """What :func:`check_package` found.

    Attributes:
        folder: The package folder.
        problems: Everything that keeps the hub from accepting it.
        warnings: Things worth fixing that do not.
        name: The manifest's name, if readable.
        namespace: The manifest's namespace, if it has one.
        version: The manifest's version, if readable.
        digest: The archive digest, when the folder packs.
        size: The archive size in bytes, when the folder packs.
        interface: The spec's inputs and outputs, when kfp loads it.
    """

    folder: Path
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    name: str | None = None
    namespace: str | None = None
    version: str | None = None
    digest: str | None = None
    size: int | None = None
    interface: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        """Whether the hub would accept the package."""
        return not self.problems

    def add(self, file: str, message: str, field: str | None = None) -> None:
        """Record a problem (duplicates are kept once)."""
        problem = Problem(file, field, message)
        if problem not in self.problems:
            self.problems.append(problem)

    def to_dict(self) -> dict[str, Any]:
        """As JSON-ready data."""
        return {
            "folder": str(self.folder),
            "valid": self.ok,
            "name": self.name,
            "namespace": self.namespace,
            "version": self.version,
            "digest": self.digest,
            "size": self.size,
            "problems": [p.to_dict() for p in self.problems],
            "warnings": list(self.warnings),
        }


def _inside(folder: Path, rel: str) -> Path | None:
    path = (folder / rel).resolve()
    return path if path.is_relative_to(folder.resolve()) else None


def _add_server_error(report: PackageReport, exc: Any, default_file: str) -> None:
    """Record a ``hub_server`` error, one problem per listed field when it lists them."""
    detail: dict[str, Any] = exc.detail
    file = str(detail.get("path") or default_file)
    errors = detail.get("errors")
    if isinstance(errors, list) and errors:
        for item in errors:
            report.add(file, str(item.get("message")), item.get("field"))
    else:
        report.add(file, exc.message, detail.get("field"))


def check_package(folder: str | Path) -> PackageReport:
    """Check a package folder completely, reporting every problem found.

    Args:
        folder: The package folder (holding ``hub.yaml``).

    Returns:
        The report; ``report.ok`` says whether the hub would accept the package.
    """
    from hub_server import archive
    from hub_server.errors import HubError as ServerError
    from hub_server.manifest import parse_manifest

    folder = Path(folder)
    report = PackageReport(folder=folder)
    if not folder.is_dir():
        report.add(str(folder), "is not a directory")
        return report

    document: Any = None
    manifest: Any = None
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        report.add(
            MANIFEST, "missing: a package needs a hub.yaml at its root (`hub init` makes one)"
        )
    else:
        try:
            document = archive.load_yaml(manifest_path.read_bytes(), filename=MANIFEST)
            manifest = parse_manifest(document)
        except ServerError as exc:
            _add_server_error(report, exc, MANIFEST)
    raw = document if isinstance(document, dict) else {}
    if manifest is not None:
        report.name, report.namespace, report.version = (
            manifest.name,
            manifest.namespace,
            manifest.version,
        )
    else:
        report.name = raw.get("name") if isinstance(raw.get("name"), str) else None

    spec_rel = manifest.component if manifest else str(raw.get("component") or "component.yaml")
    readme_rel = manifest.readme if manifest else str(raw.get("readme") or "README.md")
    _check_spec(report, folder, spec_rel)
    readme = _inside(folder, readme_rel)
    if readme is None or not readme.is_file():
        report.add(readme_rel, "missing: the catalogue shows it (hub.yaml `readme`)")
    elif not readme.read_bytes().strip():
        report.add(readme_rel, "is empty: the catalogue shows it")

    if manifest is not None and report.interface is not None:
        inputs = {item["name"] for item in report.interface.get("inputs", [])}
        for variant, spec in manifest.hardware.variants.items():
            for argument in spec.arguments or {}:
                if argument not in inputs:
                    report.add(
                        MANIFEST,
                        f"the component has no input {argument!r} "
                        f"(inputs: {', '.join(sorted(inputs)) or 'none'})",
                        f"hardware.variants.{variant}.arguments.{argument}",
                    )

    if manifest is not None:
        _check_images(report, manifest)

    source, spec_file = folder / SOURCE, _inside(folder, spec_rel)
    if (
        source.is_file()
        and spec_file is not None
        and spec_file.is_file()
        and source.stat().st_mtime > spec_file.stat().st_mtime + 1
    ):
        report.warnings.append(
            f"{SOURCE} is newer than {spec_rel}: run `hub build` to compile it again"
        )

    data: bytes | None = None
    try:
        data = archive.pack(folder)
    except ServerError as exc:
        _add_server_error(report, exc, ".")
    if data is not None:
        report.digest, report.size = archive.digest(data), len(data)
        limit = archive.ArchiveLimits().max_archive_bytes
        if len(data) > limit:
            report.add(".", f"the archive is {len(data)} bytes; a hub accepts at most {limit}")
    if report.ok and data is not None and manifest is not None:
        # The hub's own check of the packed archive: whatever passes it, the hub accepts.
        from hub_server.packages import validate_package

        try:
            validate_package(
                data,
                namespace=manifest.namespace or "local",
                name=manifest.name,
                limits=archive.ArchiveLimits(),
            )
        except ServerError as exc:
            _add_server_error(report, exc, MANIFEST)
    return report


def _check_images(report: PackageReport, manifest: Any) -> None:
    """Image references the hub would refuse when it pins them at publish time."""
    from hub_server.oci import ImageRef

    images = [("image", manifest.image)] + [
        (f"hardware.variants.{name}.image", variant.image)
        for name, variant in manifest.hardware.variants.items()
    ]
    for field_name, image in images:
        if not image:
            continue
        try:
            ImageRef.parse(image)
        except ValueError as exc:
            report.add(MANIFEST, str(exc), field_name)


def _check_spec(report: PackageReport, folder: Path, spec_rel: str) -> None:
    from hub_server import archive
    from hub_server.errors import HubError as ServerError
    from hub_server.kfp_spec import read_interface

    spec_path = _inside(folder, spec_rel)
    if spec_path is None or not spec_path.is_file():
        hint = " (run `hub build` to compile component.py)" if (folder / SOURCE).is_file() else ""
        report.add(spec_rel, f"missing: hub.yaml's `component` names this KFP spec{hint}")
        return
    raw = spec_path.read_bytes()
    try:
        document = archive.load_yaml(raw, filename=spec_rel)
        report.interface = read_interface(raw.decode("utf-8"), document, path=spec_rel)
    except ServerError as exc:
        _add_server_error(report, exc, spec_rel)
    except UnicodeDecodeError:
        report.add(spec_rel, "is not UTF-8 text")


def read_manifest_fields(folder: Path) -> dict[str, Any]:
    """The ``hub.yaml`` of a folder, read strictly but not validated (the hub validates).

    Args:
        folder: The package folder.

    Returns:
        The manifest mapping; ``name`` is a string.

    Raises:
        InvalidPackageError: no ``hub.yaml``, not YAML, or without a ``name``.
    """
    from hub_server import archive
    from hub_server.errors import HubError as ServerError

    path = folder / MANIFEST
    try:
        document = archive.load_yaml(path.read_bytes(), filename=MANIFEST)
    except FileNotFoundError:
        raise InvalidPackageError(
            f"{folder} has no {MANIFEST}: is it a package folder?", code="manifest_missing"
        ) from None
    except ServerError as exc:
        raise InvalidPackageError(exc.message, code=exc.code, **exc.detail) from None
    if not isinstance(document, dict) or not isinstance(document.get("name"), str):
        raise InvalidPackageError(f"{path} has no `name`", code="invalid_manifest")
    return document


def pack_folder(folder: Path) -> bytes:
    """Pack a folder with the hub's deterministic packer.

    Args:
        folder: The package folder.

    Returns:
        The archive bytes.

    Raises:
        InvalidPackageError: the folder holds something a package may not (links, devices...).
    """
    from hub_server import archive
    from hub_server.errors import HubError as ServerError

    try:
        return archive.pack(folder)
    except ServerError as exc:
        raise InvalidPackageError(exc.message, code=exc.code, **exc.detail) from None


# --------------------------------------------------------------------------------------------
# hub build
# --------------------------------------------------------------------------------------------


def _pick_component(found: dict[str, Any], module_name: str, wanted: str | None, hint: str) -> Any:
    if wanted:
        if wanted not in found:
            listed = ", ".join(sorted(found)) or "none"
            raise BuildError(f"{SOURCE} has no component {wanted!r} (components: {listed})")
        return found[wanted]
    own = {
        name: obj
        for name, obj in found.items()
        if getattr(getattr(obj, "python_func", None), "__module__", None) == module_name
    }
    candidates = own or found
    if len(candidates) == 1:
        return next(iter(candidates.values()))
    if hint in candidates:
        return candidates[hint]
    if not candidates:
        raise BuildError(f"{SOURCE} defines no kfp component (a function decorated @dsl.component)")
    raise BuildError(
        f"{SOURCE} defines several components ({', '.join(sorted(candidates))}): "
        "choose one with --function"
    )


def compile_component(folder: str | Path, *, function: str | None = None) -> Path:
    """Compile ``component.py`` into the KFP spec ``hub.yaml`` names, with kfp's compiler.

    Args:
        folder: The package folder.
        function: The component to compile when ``component.py`` defines several.
            Default: the only one, or the one named like the package.

    Returns:
        The compiled spec's path.

    Raises:
        BuildError: no ``component.py``, it fails to import, it holds no (or several)
            components, or kfp cannot compile it.
        InvalidPackageError: ``hub.yaml`` is unreadable.
    """
    folder = Path(folder)
    source = folder / SOURCE
    if not source.is_file():
        raise BuildError(f"{folder} has no {SOURCE} to compile")
    fields = read_manifest_fields(folder) if (folder / MANIFEST).is_file() else {}
    spec_rel = str(fields.get("component") or "component.yaml")
    target = _inside(folder, spec_rel)
    if target is None:
        raise BuildError(f"hub.yaml's `component` ({spec_rel!r}) is outside the package")
    hint = str(fields.get("name") or folder.resolve().name).replace("-", "_")

    from kfp import compiler
    from kfp.dsl.base_component import BaseComponent

    module_name = f"_hub_build_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(module_name, source)
    if spec is None or spec.loader is None:  # pragma: no cover - a .py file always has one
        raise BuildError(f"cannot import {source}")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(folder.resolve()))
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise BuildError(f"{SOURCE} failed to import: {type(exc).__name__}: {exc}") from exc
    finally:
        sys.modules.pop(module_name, None)
        sys.path.remove(str(folder.resolve()))
    found = {name: obj for name, obj in vars(module).items() if isinstance(obj, BaseComponent)}
    component = _pick_component(found, module_name, function, hint)
    target.parent.mkdir(parents=True, exist_ok=True)
    # kfp picks the output format from the suffix, so the temporary name keeps it.
    temp = target.with_name(f".{target.stem}.{os.getpid()}.tmp{target.suffix or '.yaml'}")
    try:
        compiler.Compiler().compile(component, str(temp))
        os.replace(temp, target)
    except Exception as exc:
        raise BuildError(f"kfp could not compile {SOURCE}: {exc}") from exc
    finally:
        temp.unlink(missing_ok=True)
    return target


def _docker_host() -> str:
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def build_image(folder: str | Path, tag: str, *, push: bool = False) -> str:
    """Build (and optionally push) the package's image from its ``Dockerfile``.

    Args:
        folder: The package folder (the build context).
        tag: The image reference to tag, ``registry/name:tag``.
        push: Push it after building.

    Returns:
        The built image's id.

    Raises:
        DockerUnavailableError: the ``docker`` package is missing or no engine answers.
        BuildError: no ``Dockerfile``, or the build or push failed.
    """
    folder = Path(folder)
    if not (folder / "Dockerfile").is_file():
        raise BuildError(f"{folder} has no Dockerfile to build the image from")
    try:
        import docker  # type: ignore[import-untyped]
        from docker import errors as docker_errors
    except ImportError:
        raise DockerUnavailableError(
            "building images needs the docker package: pip install 'component-hub[docker]'"
        ) from None
    host = _docker_host()
    unavailable = DockerUnavailableError(
        f"cannot reach a Docker engine at {host}: start Docker, "
        "or point DOCKER_HOST at a running engine"
    )
    # A missing socket is answered without the docker client, which leaks a socket when it
    # cannot connect to one.
    if host.startswith("unix://") and not Path(host.removeprefix("unix://")).exists():
        raise unavailable
    # Probe with a fixed (the oldest) API version: negotiating one ("auto") sends a request
    # from the constructor, before there is a client to close.
    try:
        probe = docker.from_env(version=docker.constants.MINIMUM_DOCKER_API_VERSION)
    except docker_errors.DockerException:
        raise unavailable from None
    try:
        probe.ping()
    except Exception:  # docker raises its own errors and requests' for a dead engine
        raise unavailable from None
    finally:
        probe.close()
    engine = docker.from_env()
    try:
        image, _logs = engine.images.build(path=str(folder), tag=tag, rm=True)
        if push:
            repository, _, image_tag = tag.rpartition(":")
            if "/" in image_tag or not repository:
                repository, image_tag = tag, "latest"
            for line in engine.images.push(repository, tag=image_tag, stream=True, decode=True):
                if isinstance(line, dict) and line.get("error"):
                    raise BuildError(f"docker push {tag} failed: {line['error']}")
    except docker_errors.BuildError as exc:
        raise BuildError(f"docker build failed: {exc.msg}") from None
    except docker_errors.APIError as exc:
        raise BuildError(f"the Docker engine refused: {exc.explanation or exc}") from None
    finally:
        engine.close()
    return str(image.id)
