"""Checking an uploaded package completely, storing nothing: what a publish validates.

Pure functions of the archive's bytes (and the limits), with light imports (the archive and
YAML readers, the manifest model, kfp's spec structures): the package checker process
(:mod:`hub_server.validator`) imports this module and not the service layer's database and web
stack.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hub_server import archive, semver
from hub_server.errors import InvalidPackage
from hub_server.kfp_spec import read_spec_file
from hub_server.manifest import Manifest, parse_manifest


@dataclass(frozen=True)
class ValidatedPackage:
    """A package that passed every check, ready to be stored."""

    manifest: Manifest
    version: semver.Version
    interface: dict[str, Any]
    spec_yaml: str
    readme: str
    image: str | None
    digest: str
    data: bytes


def validate_package(
    data: bytes, *, namespace: str, name: str, limits: archive.ArchiveLimits
) -> ValidatedPackage:
    """Check an uploaded archive completely, storing nothing.

    Args:
        data: the ``.tar.gz`` as uploaded.
        namespace: the namespace of the URL.
        name: the component name of the URL.
        limits: archive size limits.

    Returns:
        The validated package.

    Raises:
        InvalidPackage: with a code that says what is wrong (see ``hub_server.errors``).
        PayloadTooLarge: ``archive_too_large``.
    """
    files = archive.unpack(data, limits)
    if "hub.yaml" not in files:
        raise InvalidPackage(
            "the package has no hub.yaml at its root", code="manifest_missing", path="hub.yaml"
        )
    manifest = parse_manifest(
        archive.load_yaml(files["hub.yaml"], filename="hub.yaml", limits=limits)
    )
    if manifest.name != name:
        raise InvalidPackage(
            f"hub.yaml names the component {manifest.name!r} but it is published as {name!r}",
            code="manifest_mismatch",
            field="name",
            manifest=manifest.name,
            url=name,
        )
    if manifest.namespace is not None and manifest.namespace != namespace:
        raise InvalidPackage(
            f"hub.yaml names the namespace {manifest.namespace!r} "
            f"but it is published into {namespace!r}",
            code="manifest_mismatch",
            field="namespace",
            manifest=manifest.namespace,
            url=namespace,
        )
    version = semver.Version.parse(manifest.version)
    if manifest.component not in files:
        raise InvalidPackage(
            f"hub.yaml points to the component spec {manifest.component!r}, "
            "which is not in the package",
            code="component_spec_missing",
            path=manifest.component,
        )
    spec_yaml = archive.read_text(files, manifest.component)
    interface = read_spec_file(
        files[manifest.component], spec_yaml, path=manifest.component, limits=limits
    )
    if manifest.readme not in files:
        raise InvalidPackage(
            f"the package has no {manifest.readme} (the catalogue shows it)",
            code="readme_missing",
            path=manifest.readme,
        )
    readme = archive.read_text(files, manifest.readme)
    if not readme.strip():
        raise InvalidPackage(
            f"{manifest.readme} is empty", code="readme_missing", path=manifest.readme
        )
    _check_variant_arguments(manifest, interface)
    image = manifest.image or interface.get("image")
    return ValidatedPackage(
        manifest=manifest,
        version=version,
        interface=interface,
        spec_yaml=spec_yaml,
        readme=readme,
        image=image,
        digest=archive.digest(data),
        data=data,
    )


def _check_variant_arguments(manifest: Manifest, interface: dict[str, Any]) -> None:
    """A variant's argument overrides must name inputs the component has."""
    inputs = {item["name"] for item in interface["inputs"]}
    known = ", ".join(sorted(inputs)) or "none"
    errors = [
        {
            "field": f"hardware.variants.{variant}.arguments.{arg}",
            "message": f"the component has no input {arg!r} (inputs: {known})",
        }
        for variant, spec in manifest.hardware.variants.items()
        for arg in (spec.arguments or {})
        if arg not in inputs
    ]
    if errors:
        raise InvalidPackage(
            f"hub.yaml is invalid: {errors[0]['field']}: {errors[0]['message']}",
            code="invalid_manifest",
            path="hub.yaml",
            errors=errors,
        )
