"""The ``hub.yaml`` manifest: the one source of truth for its JSON Schema.

``schemas/hub-manifest.v1.json`` is generated from :class:`Manifest` by
``python -m hub_server.manifest > schemas/hub-manifest.v1.json`` (``make schema``); a test fails
when the checked-in file drifts from the model.
"""

from __future__ import annotations

import json
import re
import sys
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hub_server.errors import InvalidPackage

NAMESPACE_PATTERN = r"^[a-z0-9][a-z0-9-]{0,38}$"
NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"
# SemVer 2.0.0's own regular expression (semver.org), strict: no "v", no leading zeros.
SEMVER_PATTERN = (
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
# Kubernetes quantities, restricted to what kfp's set_cpu_request / set_memory_request accept
# (kfp refuses "1.5Gi" and a lowercase "k"), so a published variant always loads.
CPU_PATTERN = r"^([0-9]+(\.[0-9]+)?|[0-9]+m)$"
MEMORY_PATTERN = r"^[0-9]+(E|Ei|P|Pi|T|Ti|G|Gi|M|Mi|K|Ki)?$"
VARIANT_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,31}$"
TAG_PATTERN = r"^[a-z0-9][a-z0-9.+-]{0,49}$"
# A relative path inside the package: segments that start with a letter, digit or "_", so
# neither "/" at the start nor a ".." segment can occur.
PACKAGE_PATH_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*){0,15}$"

NAMESPACE_RE = re.compile(NAMESPACE_PATTERN)
NAME_RE = re.compile(NAME_PATTERN)


class Category(StrEnum):
    DATA_INGESTION = "data-ingestion"
    DATA_SPLITTING = "data-splitting"
    PREPROCESSING = "preprocessing"
    TRAINING = "training"
    EVALUATION = "evaluation"
    VISUALIZATION = "visualization"
    DEPLOYMENT = "deployment"
    OTHER = "other"


class _Strict(BaseModel):
    # Unknown keys are refused so a typo ("memroy") is an error, not silently ignored.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Limits(_Strict):
    cpu: Annotated[str, Field(pattern=CPU_PATTERN)] | None = None
    memory: Annotated[str, Field(pattern=MEMORY_PATTERN)] | None = None


class Resources(_Strict):
    """Requests (``cpu``, ``memory``) and optional ``limits``."""

    cpu: (
        Annotated[str, Field(pattern=CPU_PATTERN, description='CPU request, e.g. "2", "500m"')]
        | None
    ) = None
    memory: Annotated[str, Field(pattern=MEMORY_PATTERN, description="e.g. 8Gi")] | None = None
    limits: Limits | None = None


class Accelerator(_Strict):
    type: str = Field(
        min_length=1, max_length=100, description="Kubernetes resource, e.g. nvidia.com/gpu"
    )
    count: int = Field(default=1, ge=1, le=64)
    model: str | None = Field(
        default=None, max_length=100, description="e.g. nvidia-tesla-t4 (node selector value)"
    )


class Variant(_Strict):
    """One way to run the component: its resources, accelerator, image and argument defaults."""

    description: str | None = Field(default=None, max_length=300)
    image: str | None = Field(default=None, max_length=500)
    resources: Resources | None = None
    accelerator: Accelerator | None = None
    arguments: dict[str, Any] | None = None


class Hardware(_Strict):
    default: Annotated[str, Field(pattern=VARIANT_PATTERN)]
    variants: dict[Annotated[str, Field(pattern=VARIANT_PATTERN)], Variant] = Field(min_length=1)

    @model_validator(mode="after")
    def _default_is_a_variant(self) -> Hardware:
        if self.default not in self.variants:
            known = ", ".join(sorted(self.variants))
            raise ValueError(f"default variant {self.default!r} is not one of: {known}")
        return self


def _cpu_only_hardware() -> Hardware:
    return Hardware(default="cpu", variants={"cpu": Variant()})


class Manifest(_Strict):
    """``hub.yaml``: what a component package says about itself."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "https://component-hub.dev/schemas/hub-manifest.v1.json",
        },
    )

    name: Annotated[str, Field(pattern=NAME_PATTERN)]
    namespace: Annotated[str, Field(pattern=NAMESPACE_PATTERN)] | None = None
    version: Annotated[str, Field(pattern=SEMVER_PATTERN, description="strict SemVer 2.0.0")]
    description: str = Field(min_length=1, max_length=500)
    category: Category
    tags: list[Annotated[str, Field(pattern=TAG_PATTERN)]] = Field(
        default_factory=list, max_length=20
    )
    license: str = Field(min_length=1, max_length=100, description="an SPDX identifier")
    authors: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(min_length=1)
    homepage: Annotated[str, Field(pattern=r"^https?://", max_length=500)] | None = None
    repository: Annotated[str, Field(pattern=r"^https?://", max_length=500)] | None = None
    component: Annotated[str, Field(pattern=PACKAGE_PATH_PATTERN)] = "component.yaml"
    readme: Annotated[str, Field(pattern=PACKAGE_PATH_PATTERN)] = "README.md"
    image: str | None = Field(
        default=None,
        max_length=500,
        description="container image of a container component (pin it: name@sha256:...)",
    )
    hardware: Hardware = Field(default_factory=_cpu_only_hardware)


def parse_manifest(document: Any) -> Manifest:
    """Validate a loaded ``hub.yaml`` document.

    Args:
        document: the YAML document as loaded (normally a mapping).

    Returns:
        The manifest.

    Raises:
        InvalidPackage: ``invalid_manifest``, with every problem listed in ``detail.errors``
            as ``{"field": "hardware.variants.gpu.resources.memory", "message": ...}``.
    """
    if not isinstance(document, dict):
        raise InvalidPackage(
            "hub.yaml must be a mapping of fields", code="invalid_manifest", path="hub.yaml"
        )
    try:
        return Manifest.model_validate(document)
    except ValidationError as exc:
        errors = [
            {"field": ".".join(str(p) for p in err["loc"]) or "(root)", "message": err["msg"]}
            for err in exc.errors(include_url=False)
        ]
        first = errors[0]
        raise InvalidPackage(
            f"hub.yaml is invalid: {first['field']}: {first['message']}"
            + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""),
            code="invalid_manifest",
            path="hub.yaml",
            errors=errors,
        ) from None


def json_schema() -> dict[str, Any]:
    """The manifest's JSON Schema, as checked in at ``schemas/hub-manifest.v1.json``."""
    schema = Manifest.model_json_schema()
    schema["title"] = "Component Hub manifest (hub.yaml), version 1"
    return schema


def render_json_schema() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render_json_schema())
