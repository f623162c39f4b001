"""A small, realistic catalogue published through the real API (in-process or live)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.factories import pack_package

Post = Callable[..., httpx.Response]

CPU_SMALL = {"default": "cpu", "variants": {"cpu": {"resources": {"cpu": "1", "memory": "2Gi"}}}}
CPU_TINY = {"default": "cpu", "variants": {"cpu": {"resources": {"cpu": "500m", "memory": "1Gi"}}}}
CPU_AND_T4 = {
    "default": "cpu",
    "variants": {
        "cpu": {"resources": {"cpu": "2", "memory": "8Gi"}},
        "gpu": {
            "image": "example.org/ml/train-xgboost:1.2.0-cuda12",
            "resources": {"cpu": "4", "memory": "16Gi", "limits": {"memory": "24Gi"}},
            "accelerator": {"type": "nvidia.com/gpu", "count": 1, "model": "nvidia-tesla-t4"},
            "arguments": {"device": "cuda"},
        },
    },
}
A100_ONLY = {
    "default": "gpu",
    "variants": {
        "gpu": {
            "resources": {"cpu": "8", "memory": "64Gi"},
            "accelerator": {"type": "nvidia.com/gpu", "count": 2, "model": "nvidia-tesla-a100"},
        }
    },
}

XGBOOST_README = """\
# Train XGBoost

Trains a **gradient-boosted tree** classifier with [XGBoost](https://xgboost.ai) on a CSV
file and writes the model as a KFP `Model` artifact.

## Usage

```python
from hub_cli import load_component

train = load_component("library/train-xgboost@^1.2", hardware="gpu")
```

## Parameters

| Input | Meaning | Default |
|:------|:--------|--------:|
| `data` | training data, CSV with a `label` column | — |
| `epochs` | boosting rounds | 10 |
| `device` | `cpu` or `cuda` | cpu |

> The GPU variant needs a node with an NVIDIA T4.

- Early stopping on a validation split
- Deterministic with a fixed seed
"""

HOSTILE_README = """\
# Hostile README

Some *harmless* text that must survive.

<script>window.__pwned = "script"; alert("script")</script>

[a javascript link](javascript:window.__pwned='md-link';alert('md-link'))

<a id="raw-js-link" href="javascript:window.__pwned='raw-link';alert('raw-link')">raw link</a>
<a id="mixed-case-link" href="JaVaScRiPt:alert('mixed')">mixed case</a>
<a id="entity-link" href="&#106;avascript:alert('entity')">entity-encoded</a>

<img id="bad-img" src="x" onerror="window.__pwned='onerror';alert('onerror')">
<div id="hover-me" onmouseover="window.__pwned='mouseover';alert('mouseover')">hover me</div>
<details open ontoggle="window.__pwned='ontoggle';alert('ontoggle')">
<summary>toggle</summary>x</details>
<svg onload="window.__pwned='svg';alert('svg')"><circle r="4"></circle></svg>
<iframe src="javascript:alert('iframe')"></iframe>
<object data="javascript:alert('object')"></object>
<form action="javascript:alert('form')"><button id="evil-button">go</button></form>
<style>body { display: none }</style>
<a href="https://example.org/" onclick="window.__pwned='onclick';alert('onclick')">safe link</a>
"""

# (namespace, package fields) in publish order; the last published is the newest.
CATALOGUE: list[tuple[str, dict[str, Any]]] = [
    (
        "library",
        {
            "name": "ingest-csv",
            "category": "data-ingestion",
            "description": "Read a CSV file from object storage into a Dataset artifact",
            "tags": ["csv", "io"],
            "hardware": CPU_TINY,
            "readme": "# Ingest CSV\n\nReads a CSV file from S3 or GCS.\n",
        },
    ),
    (
        "library",
        {
            "name": "split-data",
            "category": "data-splitting",
            "description": "Split a data set into train and test, stratified by label",
            "tags": ["split", "sklearn"],
            "hardware": CPU_SMALL,
            "readme": "# Split data\n\nA stratified shuffle split.\n",
        },
    ),
    *[
        (
            "library",
            {
                "name": "train-xgboost",
                "version": version,
                "category": "training",
                "description": "Train a gradient-boosted tree classifier with XGBoost",
                "tags": ["xgboost", "classification", "gbm"],
                "hardware": CPU_AND_T4,
                "readme": XGBOOST_README,
                "homepage": "https://example.org/train-xgboost",
            },
        )
        for version in ("1.0.0", "1.1.0", "1.2.0", "2.0.0-rc.1")
    ],
    (
        "library",
        {
            "name": "evaluate-classifier",
            "category": "evaluation",
            "description": "Accuracy, precision, recall and ROC AUC of a classifier",
            "tags": ["metrics", "classification"],
            "hardware": CPU_SMALL,
            "readme": "# Evaluate\n\nWrites a confusion matrix and a metrics artifact.\n",
        },
    ),
    (
        "vision",
        {
            "name": "train-resnet",
            "category": "training",
            "description": "Fine-tune a ResNet-50 image classifier on two A100s",
            "tags": ["pytorch", "vision"],
            "hardware": A100_ONLY,
            "readme": "# Train ResNet\n\nDistributed data parallel fine-tuning.\n",
        },
    ),
    (
        "vision",
        {
            "name": "plot-roc",
            "category": "visualization",
            "description": "Plot ROC curves as an HTML artifact",
            "tags": ["metrics", "plot"],
            "hardware": CPU_TINY,
            "readme": "# Plot ROC\n\nOne curve per class.\n",
        },
    ),
]

YANKED = ("library", "train-xgboost", "1.1.0", "wrong default learning rate")
FORK = ("library", "train-xgboost", "vision")
PULLS = {("library", "split-data", "1.0.0"): 3, ("library", "train-xgboost", "1.2.0"): 2}


def seed(http: httpx.Client | Any, headers: dict[str, str], workdir: Path) -> None:
    """Publish :data:`CATALOGUE`, yank one version, fork one component, pull a few.

    Args:
        http: an ``httpx.Client`` for a live hub or a ``TestClient``.
        headers: an administrator's auth headers.
        workdir: where package folders are written.
    """
    for index, (namespace, package) in enumerate(CATALOGUE):
        data = pack_package(workdir / f"seed{index}", **package)
        name = package["name"]
        response = http.post(
            f"/api/v1/components/{namespace}/{name}/versions",
            files={"archive": (f"{name}.tar.gz", data, "application/gzip")},
            headers=headers,
        )
        assert response.status_code == 201, response.text
    namespace, name, version, reason = YANKED
    response = http.post(
        f"/api/v1/components/{namespace}/{name}/versions/{version}/yank",
        json={"reason": reason},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    source_ns, source_name, dest_ns = FORK
    response = http.post(
        f"/api/v1/components/{source_ns}/{source_name}/fork",
        json={"namespace": dest_ns},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    for (namespace, name, version), count in PULLS.items():
        for _ in range(count):
            url = f"/api/v1/components/{namespace}/{name}/versions/{version}/archive"
            assert http.get(url).status_code == 200


def publish_hostile(http: httpx.Client | Any, headers: dict[str, str], workdir: Path) -> str:
    """Publish ``library/hostile`` with :data:`HOSTILE_README`; returns its page path."""
    data = pack_package(
        workdir / "hostile",
        name="hostile",
        description="A README made of attacks",
        tags=["security"],
        readme=HOSTILE_README,
    )
    response = http.post(
        "/api/v1/components/library/hostile/versions",
        files={"archive": ("hostile.tar.gz", data, "application/gzip")},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    return "/components/library/hostile"
