"""Hardware variants: choosing one, and writing its image and defaults into the spec."""

from __future__ import annotations

import pytest
import yaml

from hub_cli.errors import InvalidPackageError, UnknownVariantError
from hub_cli.variants import apply_to_spec, kfp_memory, select_variant
from tests.factories import V1_SPEC, manifest, v2_spec


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("8Gi", "8Gi"),
        ("512M", "512M"),
        ("1024", "1024"),
        ("500k", "500K"),
        ("1.5Gi", "1536Mi"),
        ("0.5G", "500M"),
        ("2.25Ki", "2304"),
    ],
)
def test_memory_quantities_are_written_as_kfp_takes_them(given: str, expected: str) -> None:
    assert kfp_memory(given) == expected


def test_a_fractional_byte_count_is_refused() -> None:
    with pytest.raises(ValueError, match="whole number of bytes"):
        kfp_memory("0.1")


def test_the_default_variant_is_taken_when_none_is_named() -> None:
    hardware = manifest()["hardware"]

    cpu = select_variant(hardware, None, component="alice/train@1.0.0")
    gpu = select_variant(hardware, "gpu", component="alice/train@1.0.0")

    assert (cpu.variant, cpu.cpu_request, cpu.memory_request) == ("cpu", "2", "8Gi")
    assert cpu.accelerator_type is None
    assert cpu.image is None
    assert (gpu.accelerator_type, gpu.accelerator_count) == ("nvidia.com/gpu", 1)
    assert gpu.accelerator_model == "nvidia-tesla-t4"
    assert gpu.node_selector_label == "cloud.google.com/gke-accelerator"
    assert gpu.arguments == {"device": "cuda"}


def test_the_node_label_for_accelerator_models_is_configurable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HUB_ACCELERATOR_LABEL", "nvidia.com/gpu.product")

    gpu = select_variant(manifest()["hardware"], "gpu", component="x")

    assert gpu.node_selector_label == "nvidia.com/gpu.product"


def test_an_unknown_variant_lists_the_known_ones() -> None:
    with pytest.raises(UnknownVariantError) as caught:
        select_variant(manifest()["hardware"], "tpu", component="alice/train@1.0.0")

    assert str(caught.value) == (
        "alice/train@1.0.0 has no hardware variant 'tpu'; known variants: cpu, gpu"
    )
    assert caught.value.known == ["cpu", "gpu"]


def test_nothing_to_change_leaves_the_text_alone() -> None:
    assert apply_to_spec(v2_spec(), image=None, arguments=None) == v2_spec()


def test_a_v2_spec_gets_the_image_and_defaults_and_keeps_its_header() -> None:
    text = apply_to_spec(v2_spec(), image="example.org/train:cuda", arguments={"epochs": 3})
    document = yaml.safe_load(text)

    assert text.startswith("# PIPELINE DEFINITION\n# Name: train\n")
    container = document["deploymentSpec"]["executors"]["exec-train"]["container"]
    assert container["image"] == "example.org/train:cuda"
    for definitions in (
        document["root"]["inputDefinitions"],
        document["components"]["comp-train"]["inputDefinitions"],
    ):
        assert definitions["parameters"]["epochs"]["defaultValue"] == 3


def test_a_v1_spec_gets_the_image_and_defaults() -> None:
    text = apply_to_spec(V1_SPEC, image="example.org/train:cuda", arguments={"device": "cuda"})
    document = yaml.safe_load(text)

    assert document["implementation"]["container"]["image"] == "example.org/train:cuda"
    device = next(item for item in document["inputs"] if item["name"] == "device")
    assert device["default"] == "cuda"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"data": "gs://x"}, "artifact input"),
        ({"epochs": "many"}, "not a NUMBER_INTEGER"),
    ],
)
def test_defaults_that_do_not_fit_the_spec_are_refused(
    arguments: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidPackageError, match=message):
        apply_to_spec(v2_spec(), image=None, arguments=arguments)
