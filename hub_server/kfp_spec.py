"""Reading a KFP component spec with ``kfp`` itself, never with a parser of our own.

Both formats load: KFP v2 IR YAML (what ``kfp.compiler`` writes) and v1 ``component.yaml``.
kfp's loaded ``InputSpec``/``OutputSpec`` keep type, default and optionality but drop the
descriptions, so those are read from the same document kfp just accepted.

kfp's ``load_component_from_text(text)`` is ``ComponentSpec.from_yaml_documents(text)`` wrapped
in a ``YamlComponent`` that checks nothing more; ``from_yaml_documents`` parses the text with
PyYAML's pure-Python loader (nine tenths of its time) and hands the dict to
``ComponentSpec.from_v1_component_spec`` or ``ComponentSpec.from_ir_dicts``. The package's
spec has already been parsed by :func:`hub_server.archive.load_yaml` (libyaml, the same safe
constructor, and stricter: one document, no aliases, no duplicate keys), so :func:`load_spec`
hands that dict to the same two kfp functions (and reads an IR spec's header description as kfp
does) and skips the second parse. A test checks that
both ways give equal specs and refuse the same documents.

Only ``kfp.dsl.structures`` is imported, never ``kfp.components``: with ``_KFP_RUNTIME=true``
(kfp's switch for its lean runtime image, which ``hub serve`` sets for its workers) importing it
costs ~4 MiB instead of the ~50 MiB of kfp's client, compiler and Kubernetes models.
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
import typing
from collections import OrderedDict
from typing import Any

from hub_server import archive
from hub_server.errors import InvalidPackage

# Interfaces of the specs read lately, by the sha256 of the spec file (see read_spec_file).
INTERFACE_CACHE_SIZE = 256
_interfaces: OrderedDict[str, str] = OrderedDict()
_interfaces_lock = threading.Lock()


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


def load_spec(spec_text: str, document: dict[str, Any]) -> Any:
    """kfp's ``ComponentSpec`` of a spec, as ``load_component_from_text(spec_text)`` gives it.

    Args:
        spec_text: the spec as text.
        document: the same spec parsed by :func:`hub_server.archive.load_yaml` (kfp reads
            it, as it reads the dict it parses itself, and leaves it as it was).

    Returns:
        The ``kfp.dsl.structures.ComponentSpec``.

    Raises:
        Exception: whatever kfp raises for a spec it refuses.
    """
    from kfp.dsl import structures, v1_structures

    _remember_type_hints()
    if "implementation" in document:
        return structures.ComponentSpec.from_v1_component_spec(
            v1_structures.ComponentSpec.from_dict(document)
        )
    spec = structures.ComponentSpec.from_ir_dicts(document, {})
    if not spec.description:
        spec.description = _header_description(spec_text)
    return spec


def _remember_type_hints() -> None:
    """Make kfp's v1 reader look each class's type hints up once.

    ``kfp.dsl.v1_modelbase`` calls ``typing.get_type_hints(cls.__init__)`` for every object it
    builds (~145 times per publish of the bench's v1 specs), and the hints of its own classes
    never change: measured in-process at 100k components, 5.5 ms of a 22.5 ms publish. The
    function it names is swapped, once, for the same function behind a cache keyed by the
    object asked about.
    """
    from kfp.dsl import v1_modelbase

    if not hasattr(v1_modelbase.get_type_hints, "cache_info"):
        v1_modelbase.get_type_hints = functools.lru_cache(maxsize=512)(typing.get_type_hints)


def _header_description(spec_text: str) -> str | None:
    """The description in the header comment ``kfp.compiler`` writes above an IR spec: what
    ``ComponentSpec.from_yaml_documents`` reads when the IR has none (its ``extract_description``,
    kfp 2.x, line for line; tests/server/test_kfp_spec.py compares the two on real specs)."""
    heading = "# Description: "
    continuation = "#             "
    if heading not in spec_text:
        return None
    lines = spec_text.splitlines()
    description = lines[2]
    index = 3
    while lines[index][: len(continuation)] == continuation:
        description += "\n" + lines[index][len(continuation) + 1 :]
        index += 1
    return description[len(heading) :]


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
    if not isinstance(document, dict):
        raise InvalidPackage(
            f"{path} is not a KFP component spec (expected a mapping)",
            code="invalid_component_spec",
            path=path,
        )
    try:
        spec = load_spec(spec_text, document)
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


def read_spec_file(
    data: bytes, text: str, *, path: str, limits: archive.ArchiveLimits
) -> dict[str, Any]:
    """The interface of a package's spec file: :func:`archive.load_yaml`, then
    :func:`read_interface`, remembered by the file's sha256.

    Both steps are pure functions of the bytes (kfp reads no environment, network or clock),
    so a spec read once is not read again: a new version that keeps its component's spec (a
    README or manifest change, a rebuild) skips the YAML parse and kfp. Only accepted specs are
    remembered; a refused one is refused again, with the same error, each time.

    Args:
        data: the spec file's bytes.
        text: the same, decoded (:func:`archive.read_text`).
        path: its path in the package, for error messages.
        limits: the YAML size limit is enforced.

    Returns:
        The interface (see :func:`read_interface`), a fresh copy for the caller.

    Raises:
        InvalidPackage: the YAML is refused (see :func:`archive.load_yaml`) or kfp refuses
            the spec (``invalid_component_spec``).
    """
    key = f"{hashlib.sha256(data).hexdigest()}:{limits.max_yaml_bytes}"
    with _interfaces_lock:
        known = _interfaces.get(key)
        if known is not None:
            _interfaces.move_to_end(key)
    if known is None:
        document = archive.load_yaml(data, filename=path, limits=limits)
        known = json.dumps(read_interface(text, document, path=path))
        with _interfaces_lock:
            _interfaces[key] = known
            while len(_interfaces) > INTERFACE_CACHE_SIZE:
                _interfaces.popitem(last=False)
    interface: dict[str, Any] = json.loads(known)
    return interface
