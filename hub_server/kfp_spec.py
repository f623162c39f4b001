"""Reading a KFP component spec with ``kfp`` itself, never with a parser of our own.

Both formats load: KFP v2 IR YAML (what ``kfp.compiler`` writes) and v1 ``component.yaml``.
kfp's loaded ``InputSpec``/``OutputSpec`` keep type, default and optionality but drop the
descriptions, so those are read from the same document kfp just accepted.
"""

from __future__ import annotations

import json
from typing import Any

from hub_server.errors import InvalidPackage


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return str(value)
    return value


def _descriptions(document: dict[str, Any]) -> tuple[dict[str, str], dict[str, str], str]:
    """Input and output descriptions, and the format (``v2`` or ``v1``), from the raw doc."""
    inputs: dict[str, str] = {}
    outputs: dict[str, str] = {}
    if "pipelineInfo" in document or "deploymentSpec" in document:
        root = document.get("root") or {}
        for target, key in ((inputs, "inputDefinitions"), (outputs, "outputDefinitions")):
            definitions = root.get(key) or {}
            for kind in ("parameters", "artifacts"):
                for name, spec in (definitions.get(kind) or {}).items():
                    if isinstance(spec, dict) and spec.get("description"):
                        target[str(name)] = str(spec["description"])
        return inputs, outputs, "v2"
    for target, key in ((inputs, "inputs"), (outputs, "outputs")):
        for spec in document.get(key) or []:
            if isinstance(spec, dict) and spec.get("name") and spec.get("description"):
                target[str(spec["name"])] = str(spec["description"])
    return inputs, outputs, "v1"


def read_interface(spec_text: str, document: dict[str, Any], *, path: str) -> dict[str, Any]:
    """Load a component spec with kfp and describe its interface.

    Args:
        spec_text: the spec as text (what kfp loads).
        document: the same spec already parsed by the safe YAML loader.
        path: the spec's path in the package, for error messages.

    Returns:
        ``{"name", "description", "format", "image", "inputs": [...], "outputs": [...]}``;
        each input ``{"name", "type", "default", "optional", "description"}``, each output
        ``{"name", "type", "description"}``.

    Raises:
        InvalidPackage: ``invalid_component_spec`` when kfp cannot load it.
    """
    from kfp import components

    if not isinstance(document, dict):
        raise InvalidPackage(
            f"{path} is not a KFP component spec (expected a mapping)",
            code="invalid_component_spec",
            path=path,
        )
    try:
        component = components.load_component_from_text(spec_text)
        spec = component.component_spec
    except Exception as exc:  # kfp raises a wide variety of types for bad specs
        raise InvalidPackage(
            f"{path} is not a valid KFP component spec: {exc}",
            code="invalid_component_spec",
            path=path,
            kfp_error=f"{type(exc).__name__}: {exc}",
        ) from None
    in_docs, out_docs, fmt = _descriptions(document)
    container = getattr(spec.implementation, "container", None)
    inputs = [
        {
            "name": name,
            "type": str(item.type),
            "default": _jsonable(item.default),
            "optional": bool(item.optional),
            "description": in_docs.get(name) or getattr(item, "description", None),
        }
        for name, item in (spec.inputs or {}).items()
    ]
    outputs = [
        {
            "name": name,
            "type": str(item.type),
            "description": out_docs.get(name) or getattr(item, "description", None),
        }
        for name, item in (spec.outputs or {}).items()
    ]
    return {
        "name": spec.name,
        "description": spec.description,
        "format": fmt,
        "image": getattr(container, "image", None),
        "inputs": inputs,
        "outputs": outputs,
    }
