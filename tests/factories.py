"""Small keyword-only factories for component packages."""
# No "from __future__ import annotations" here: kfp reads the component's real annotations.

import functools
from pathlib import Path
from typing import Any

import yaml

V1_SPEC = """\
name: Train
description: Trains a model on a CSV file.
inputs:
- {name: data, type: CSV, description: training data}
- {name: epochs, type: Integer, default: '10', optional: true, description: passes over the data}
- {name: device, type: String, default: cpu, optional: true}
outputs:
- {name: model, type: Model, description: the trained model}
implementation:
  container:
    image: python:3.11-slim
    command: [python, -c, 'print("train")', {inputPath: data}, {inputValue: epochs},
      {inputValue: device}, {outputPath: model}]
"""


@functools.cache
def v2_spec() -> str:
    """A KFP v2 IR spec compiled by kfp itself from a lightweight Python component."""
    import tempfile

    from kfp import compiler, dsl

    @dsl.component(base_image="python:3.11-slim")
    def train(
        data: dsl.Input[dsl.Dataset],
        model: dsl.Output[dsl.Model],
        epochs: int = 10,
        device: str = "cpu",
    ) -> float:
        """Trains a model.

        Args:
            data: training data
            epochs: passes over the data
            device: cpu or cuda
        """
        return float(epochs)

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "component.yaml"
        compiler.Compiler().compile(train, str(path))
        return path.read_text()


def manifest(
    *,
    name: str = "train",
    version: str = "1.0.0",
    namespace: str | None = None,
    hardware: dict[str, Any] | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": name,
        "version": version,
        "description": f"{name}: trains a model",
        "category": "training",
        "tags": ["xgboost", "classification"],
        "license": "Apache-2.0",
        "authors": ["Ada Lovelace <ada@example.org>"],
        "component": "component.yaml",
        "hardware": hardware
        or {
            "default": "cpu",
            "variants": {
                "cpu": {"resources": {"cpu": "2", "memory": "8Gi"}},
                "gpu": {
                    "image": "example.org/ml/train:1.0.0-cuda12",
                    "resources": {"cpu": "4", "memory": "16Gi"},
                    "accelerator": {
                        "type": "nvidia.com/gpu",
                        "count": 1,
                        "model": "nvidia-tesla-t4",
                    },
                    "arguments": {"device": "cuda"},
                },
            },
        },
    }
    if namespace is not None:
        doc["namespace"] = namespace
    doc.update(overrides)
    return {k: v for k, v in doc.items() if v is not None}


def make_package(
    root: Path,
    *,
    name: str = "train",
    version: str = "1.0.0",
    namespace: str | None = None,
    spec: str | None = None,
    readme: str | None = "# Train\n\nTrains a model.\n",
    hardware: dict[str, Any] | None = None,
    files: dict[str, str | bytes] | None = None,
    **manifest_overrides: Any,
) -> Path:
    """Write a component package folder under ``root`` and return its path."""
    folder = root / f"{name}-{version}"
    folder.mkdir(parents=True, exist_ok=True)
    doc = manifest(
        name=name, version=version, namespace=namespace, hardware=hardware, **manifest_overrides
    )
    (folder / "hub.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    (folder / "component.yaml").write_text(spec if spec is not None else v2_spec())
    if readme is not None:
        (folder / "README.md").write_text(readme)
    for rel, content in (files or {}).items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return folder


def pack_package(root: Path, **kwargs: Any) -> bytes:
    from hub_server.archive import pack

    return pack(make_package(root, **kwargs))
