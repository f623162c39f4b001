"""The ``hub`` command line and Python SDK for Component Hub.

::

    from hub_cli import HubClient, load_component, errors

    train = load_component("ml/train-xgboost@^1.2", hardware="gpu")   # a kfp component

Names are imported on first use, so ``import hub_cli`` (and the CLI's start-up) stays cheap:
``load_component`` brings in kfp only when it is called.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "Cache",
    "HubClient",
    "Lockfile",
    "Reference",
    "__version__",
    "errors",
    "load_component",
    "pull",
]

_LAZY = {
    "Cache": "hub_cli.cache",
    "HubClient": "hub_cli.client",
    "Lockfile": "hub_cli.lockfile",
    "Reference": "hub_cli.reference",
    "load_component": "hub_cli.loader",
    "pull": "hub_cli.download",
}

if TYPE_CHECKING:
    from hub_cli import errors
    from hub_cli.cache import Cache
    from hub_cli.client import HubClient
    from hub_cli.download import pull
    from hub_cli.loader import load_component
    from hub_cli.lockfile import Lockfile
    from hub_cli.reference import Reference


def __getattr__(name: str) -> Any:
    if name == "errors":
        return importlib.import_module("hub_cli.errors")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hub_cli' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
