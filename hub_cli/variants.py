"""Hardware variants: choosing one from a manifest, and what it changes.

A variant changes two things:

* **the spec, before kfp loads it**: its ``image`` replaces the container image and its
  ``arguments`` become the inputs' defaults (:func:`apply_to_spec`, for KFP v2 IR and v1
  specs alike);
* **each task made from the component**: CPU and memory requests and limits, accelerator
  type and count, and a node selector for the accelerator model
  (:meth:`HardwareSettings.apply`).

This module does not import kfp; the tasks it configures are kfp ``PipelineTask`` objects.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml

from hub_cli import constants
from hub_cli.errors import InvalidPackageError, UnknownVariantError

__all__ = ["HardwareSettings", "apply_to_spec", "select_variant"]

_KFP_MEMORY = re.compile(r"^[0-9]+(E|Ei|P|Pi|T|Ti|G|Gi|M|Mi|K|Ki)?$")
_MEMORY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|K|M|G|T|P|E)?$")
_BINARY = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"]
_DECIMAL = ["", "K", "M", "G", "T", "P", "E"]


def kfp_memory(quantity: str) -> str:
    """A Kubernetes memory quantity in the form kfp's ``set_memory_*`` accepts.

    kfp takes integers with an optional suffix and spells the decimal kilo ``K``, while the
    manifest (like Kubernetes) also allows ``k`` and fractions. A fraction is rewritten in the
    next smaller unit of the same family when that makes it whole (``1.5Gi`` -> ``1536Mi``).

    Args:
        quantity: The manifest's value.

    Returns:
        The same amount of memory as kfp wants it written.

    Raises:
        ValueError: the quantity cannot be written for kfp without rounding.
    """
    if _KFP_MEMORY.match(quantity):
        return quantity
    match = _MEMORY.match(quantity)
    if not match:
        raise ValueError(f"{quantity!r} is not a memory quantity")
    number, suffix = match.group(1), match.group(2) or ""
    suffix = "K" if suffix == "k" else suffix
    try:
        amount = Decimal(number)
    except InvalidOperation:  # pragma: no cover - the regex admits only decimals
        raise ValueError(f"{quantity!r} is not a memory quantity") from None
    family, base = (_BINARY, 1024) if suffix.endswith("i") else (_DECIMAL, 1000)
    index = family.index(suffix)
    while amount != amount.to_integral_value() and index > 0:
        amount *= base
        index -= 1
    if amount != amount.to_integral_value():
        raise ValueError(f"{quantity!r} is not a whole number of bytes")
    return f"{int(amount)}{family[index]}"


@dataclass(frozen=True)
class HardwareSettings:
    """What a variant sets on every task.

    Attributes:
        variant: The variant's name.
        cpu_request: CPU request (``"2"``, ``"500m"``).
        cpu_limit: CPU limit.
        memory_request: Memory request, as kfp accepts it.
        memory_limit: Memory limit, as kfp accepts it.
        accelerator_type: The accelerator resource (``nvidia.com/gpu``).
        accelerator_count: How many accelerators.
        accelerator_model: The accelerator model (``nvidia-tesla-t4``): a node selector value.
        node_selector_label: The node label the model is matched against.
        image: The variant's container image, if it has one.
        arguments: The variant's argument defaults.
    """

    variant: str
    cpu_request: str | None = None
    cpu_limit: str | None = None
    memory_request: str | None = None
    memory_limit: str | None = None
    accelerator_type: str | None = None
    accelerator_count: int | None = None
    accelerator_model: str | None = None
    node_selector_label: str = constants.DEFAULT_ACCELERATOR_LABEL
    image: str | None = None
    arguments: dict[str, Any] | None = None

    @classmethod
    def from_variant(cls, name: str, variant: dict[str, Any]) -> HardwareSettings:
        """Read one variant of a manifest's ``hardware.variants``.

        Args:
            name: The variant's name.
            variant: Its mapping, as in ``hub.yaml``.

        Returns:
            Its settings.

        Raises:
            InvalidPackageError: a memory quantity kfp cannot take.
        """
        resources = variant.get("resources") or {}
        limits = resources.get("limits") or {}
        accelerator = variant.get("accelerator") or {}

        def memory(value: Any, field: str) -> str | None:
            if value is None:
                return None
            try:
                return kfp_memory(str(value))
            except ValueError as exc:
                raise InvalidPackageError(
                    f"hardware.variants.{name}.{field}: {exc}",
                    code="invalid_manifest",
                    field=f"hardware.variants.{name}.{field}",
                ) from None

        def text(value: Any) -> str | None:
            return None if value is None else str(value)

        return cls(
            variant=name,
            cpu_request=text(resources.get("cpu")),
            cpu_limit=text(limits.get("cpu")),
            memory_request=memory(resources.get("memory"), "resources.memory"),
            memory_limit=memory(limits.get("memory"), "resources.limits.memory"),
            accelerator_type=text(accelerator.get("type")),
            accelerator_count=int(accelerator.get("count", 1)) if accelerator else None,
            accelerator_model=text(accelerator.get("model")),
            node_selector_label=constants.accelerator_label(),
            image=text(variant.get("image")),
            arguments=dict(variant["arguments"]) if variant.get("arguments") else None,
        )

    def apply(self, task: Any) -> Any:
        """Set this variant's resources on a kfp ``PipelineTask``.

        Uses ``set_cpu_request``/``set_cpu_limit``, ``set_memory_request``/
        ``set_memory_limit``, ``set_accelerator_type`` and ``set_accelerator_limit``; the
        accelerator model becomes a node selector (``<label>: <model>``) in the task's
        Kubernetes platform config, in the form the ``kfp-kubernetes`` extension's
        ``add_node_selector`` writes, so the compiled pipeline carries it without needing
        that package.

        Args:
            task: The task a component call returned inside a ``@dsl.pipeline``.

        Returns:
            The same task.
        """
        if self.cpu_request:
            task.set_cpu_request(self.cpu_request)
        if self.cpu_limit:
            task.set_cpu_limit(self.cpu_limit)
        if self.memory_request:
            task.set_memory_request(self.memory_request)
        if self.memory_limit:
            task.set_memory_limit(self.memory_limit)
        if self.accelerator_type:
            task.set_accelerator_type(self.accelerator_type)
            task.set_accelerator_limit(self.accelerator_count or 1)
        if self.accelerator_model:
            kubernetes = task.platform_config.setdefault("kubernetes", {})
            labels = kubernetes.setdefault("nodeSelector", {}).setdefault("labels", {})
            labels[self.node_selector_label] = self.accelerator_model
        return task


def select_variant(
    hardware: dict[str, Any], name: str | None, *, component: str
) -> HardwareSettings:
    """Pick a variant from a manifest's ``hardware`` section.

    Args:
        hardware: ``{"default": ..., "variants": {...}}`` (a manifest without one runs as a
            plain ``cpu`` variant).
        name: The variant asked for; None for the manifest's default.
        component: ``ns/name@version``, for the error message.

    Returns:
        The variant's settings.

    Raises:
        UnknownVariantError: no variant of that name (the message lists the known ones).
    """
    variants: dict[str, Any] = dict(hardware.get("variants") or {"cpu": {}})
    chosen = name or str(hardware.get("default") or next(iter(variants)))
    if chosen not in variants:
        known = sorted(variants)
        raise UnknownVariantError(
            f"{component} has no hardware variant {chosen!r}; known variants: {', '.join(known)}",
            variant=chosen,
            known=known,
        )
    return HardwareSettings.from_variant(chosen, dict(variants[chosen] or {}))


# --------------------------------------------------------------------------------------------
# The spec, before kfp loads it
# --------------------------------------------------------------------------------------------

_V2_COERCE = {
    "STRING": str,
    "NUMBER_INTEGER": int,
    "NUMBER_DOUBLE": float,
    "BOOLEAN": bool,
}


def _v2_default(name: str, spec: dict[str, Any], value: Any) -> Any:
    kind = spec.get("parameterType")
    convert = _V2_COERCE.get(str(kind))
    if convert is None:
        return value
    if convert is bool and not isinstance(value, bool):
        raise InvalidPackageError(
            f"the variant sets {name!r} to {value!r}, but that input is a boolean",
            code="invalid_variant_arguments",
        )
    try:
        return convert(value)
    except (TypeError, ValueError):
        raise InvalidPackageError(
            f"the variant sets {name!r} to {value!r}, which is not a {kind}",
            code="invalid_variant_arguments",
        ) from None


def _set_v2_defaults(definitions: dict[str, Any] | None, arguments: dict[str, Any]) -> None:
    if not definitions:
        return
    parameters = definitions.get("parameters") or {}
    artifacts = definitions.get("artifacts") or {}
    for name, value in arguments.items():
        if name in artifacts:
            raise InvalidPackageError(
                f"the variant sets a default for {name!r}, which is an artifact input",
                code="invalid_variant_arguments",
            )
        if name in parameters:
            parameters[name]["defaultValue"] = _v2_default(name, parameters[name], value)
            parameters[name]["isOptional"] = True


def _apply_v2(document: dict[str, Any], image: str | None, arguments: dict[str, Any]) -> None:
    if image:
        executors = (document.get("deploymentSpec") or {}).get("executors") or {}
        containers = [spec["container"] for spec in executors.values() if "container" in spec]
        if len(containers) != 1:
            raise InvalidPackageError(
                "a variant image applies to a single-container component; this spec has "
                f"{len(containers)} containers",
                code="invalid_variant_image",
            )
        containers[0]["image"] = image
    if arguments:
        _set_v2_defaults((document.get("root") or {}).get("inputDefinitions"), arguments)
        for component in (document.get("components") or {}).values():
            _set_v2_defaults(component.get("inputDefinitions"), arguments)


def _apply_v1(document: dict[str, Any], image: str | None, arguments: dict[str, Any]) -> None:
    if image:
        container = (document.get("implementation") or {}).get("container")
        if not isinstance(container, dict):
            raise InvalidPackageError(
                "a variant image applies to a container component; this spec has none",
                code="invalid_variant_image",
            )
        container["image"] = image
    for spec in document.get("inputs") or []:
        if isinstance(spec, dict) and spec.get("name") in arguments:
            value = arguments[spec["name"]]
            spec["default"] = value if isinstance(value, str) else json.dumps(value)
            spec["optional"] = True


def apply_to_spec(spec_text: str, *, image: str | None, arguments: dict[str, Any] | None) -> str:
    """Write a variant's image and argument defaults into a KFP component spec.

    Args:
        spec_text: The spec as published (KFP v2 IR, optionally with a platform document, or
            a v1 ``component.yaml``).
        image: The image to run, or None to keep the spec's.
        arguments: Input defaults to set, or None.

    Returns:
        The spec to load; the text as it was when there is nothing to change. The leading
        comment block (where kfp reads a v2 component's description) is kept.

    Raises:
        InvalidPackageError: the variant does not fit the spec (an image for a
            multi-container graph, a default for an artifact input, a wrongly typed value).
    """
    if not image and not arguments:
        return spec_text
    loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    documents = [doc for doc in yaml.load_all(spec_text, Loader=loader) if doc is not None]
    if not documents or not isinstance(documents[0], dict):
        raise InvalidPackageError("the component spec is not a YAML mapping", code="invalid_spec")
    main = documents[0]
    if "implementation" in main:
        _apply_v1(main, image, arguments or {})
    else:
        _apply_v2(main, image, arguments or {})
    header = []
    for line in spec_text.splitlines():
        if not line.startswith("#"):
            break
        header.append(line)
    body = yaml.dump_all(documents, Dumper=dumper, sort_keys=False, width=1 << 16)
    return "\n".join([*header, body]) if header else body
