"""load_component: a kfp component whose tasks carry the variant's hardware."""

# No "from __future__ import annotations": kfp reads the pipelines' real annotations.

import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from hub_cli import HubClient, errors, load_component
from hub_cli.cache import Cache
from tests.cli.conftest import Publish
from tests.factories import V1_SPEC


def compile_with(component: Any, tmp_path: Path, **arguments: Any) -> list[dict[str, Any]]:
    """Compile a one-step pipeline around ``component``; returns the YAML documents."""
    from kfp import compiler, dsl

    @dsl.pipeline(name="uses-the-hub")
    def pipeline() -> None:
        data = dsl.importer(artifact_uri="gs://bucket/data.csv", artifact_class=dsl.Dataset)
        component(data=data.output, **arguments)

    out = tmp_path / f"pipeline-{time.monotonic_ns()}.yaml"
    compiler.Compiler().compile(pipeline, str(out))
    return [doc for doc in yaml.safe_load_all(out.read_text()) if doc]


def executor(documents: list[dict[str, Any]]) -> dict[str, Any]:
    container: dict[str, Any] = documents[0]["deploymentSpec"]["executors"]["exec-train"][
        "container"
    ]
    return container


def test_the_gpu_variant_sets_image_resources_accelerator_and_node(
    hub: HubClient, published: Publish, tmp_path: Path
) -> None:
    train = load_component("alice/train@^1.0", hardware="gpu", client=hub)
    documents = compile_with(train, tmp_path)

    container = executor(documents)
    resources = container["resources"]
    assert train.hub_ref == "alice/train@1.1.0"
    assert train.hardware.variant == "gpu"
    assert container["image"] == "example.org/ml/train:1.0.0-cuda12"
    assert resources["resourceCpuRequest"] == "4"
    assert resources["resourceMemoryRequest"] == "16Gi"
    assert resources["accelerator"]["resourceType"] == "nvidia.com/gpu"
    assert resources["accelerator"]["resourceCount"] == "1"
    platform = documents[1]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert platform["exec-train"]["nodeSelector"]["labels"] == {
        "cloud.google.com/gke-accelerator": "nvidia-tesla-t4"
    }
    parameters = documents[0]["components"]["comp-train"]["inputDefinitions"]["parameters"]
    assert parameters["device"]["defaultValue"] == "cuda"


def test_the_default_variant_and_explicit_arguments(
    hub: HubClient, published: Publish, tmp_path: Path
) -> None:
    train = load_component("alice/train@1.0.0", client=hub)
    documents = compile_with(train, tmp_path, device="tpu")

    container = executor(documents)
    assert train.hardware.variant == "cpu"
    assert container["image"] == "python:3.11-slim"
    assert container["resources"]["resourceCpuRequest"] == "2"
    assert container["resources"]["resourceMemoryRequest"] == "8Gi"
    assert "accelerator" not in container["resources"]
    assert len(documents) == 1, "no platform config without an accelerator model"
    task = documents[0]["root"]["dag"]["tasks"]["train"]
    assert task["inputs"]["parameters"]["device"]["runtimeValue"]["constant"] == "tpu"


def test_limits_and_a_v1_spec(
    hub: HubClient, publish: Publish, alice: dict[str, str], tmp_path: Path
) -> None:
    hardware = {
        "default": "big",
        "variants": {
            "big": {
                "resources": {
                    "cpu": "500m",
                    "memory": "1536Mi",
                    "limits": {"cpu": "2", "memory": "4Gi"},
                },
                "image": "example.org/train:v1",
                "arguments": {"epochs": 7},
            }
        },
    }
    assert publish("alice", alice, spec=V1_SPEC, hardware=hardware).status_code == 201

    train = load_component("alice/train", client=hub)
    resources = executor(compile_with(train, tmp_path))["resources"]

    assert resources["resourceCpuRequest"] == "500m"
    assert resources["resourceCpuLimit"] == "2"
    assert resources["resourceMemoryRequest"] == "1536Mi"
    assert resources["resourceMemoryLimit"] == "4Gi"
    assert train.component_spec.implementation.container.image == "example.org/train:v1"
    assert train.component_spec.inputs["epochs"].default == 7


def test_an_unknown_variant_is_a_clear_error(hub: HubClient, published: Publish) -> None:
    with pytest.raises(errors.UnknownVariantError, match="known variants: cpu, gpu"):
        load_component("alice/train@1.0.0", hardware="tpu", client=hub)


def test_a_corrupt_cached_archive_is_a_digest_error(hub: HubClient, published: Publish) -> None:
    first = load_component("alice/train@1.0.0", client=hub)
    Cache().blob_path(first.digest).write_bytes(b"not the archive")

    with pytest.raises(errors.DigestMismatchError, match="is corrupt"):
        load_component("alice/train@1.0.0", client=hub)


def test_loading_from_the_cache_is_quick_and_equal(hub: HubClient, published: Publish) -> None:
    first = load_component("alice/train@1.0.0", client=hub)
    started = time.perf_counter()
    again = [load_component("alice/train@1.0.0", client=hub) for _ in range(10)]
    elapsed = time.perf_counter() - started

    assert all(c.component_spec == first.component_spec for c in again)
    assert elapsed / 10 < 0.5, "a cached load parses a small archive; it must not download"
