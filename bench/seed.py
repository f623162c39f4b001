"""Fill a hub's database with synthetic components and versions, fast, by bulk SQL.

Rows are built the way the service layer builds them, from the service's own code wherever it
has a function for it:

- every package *kind* (a KFP spec, its interface, a real archive) is a real package folder,
  packed with :func:`hub_server.archive.pack` and checked by
  :func:`hub_server.services.components.validate_package` (kfp parses it); its archive is put in
  the hub's blob storage, so downloads of every seeded version work (many versions share one
  content-addressed blob);
- each component's ``hub.yaml`` goes through :class:`hub_server.manifest.Manifest` and is stored
  as ``publish`` stores it (``model_dump(mode="json", exclude_none=True)``);
- the denormalized component fields, tags, search terms and hardware facts come from the helpers
  ``_refresh_latest`` uses (``_hardware_flags``, :func:`hub_server.services.search.document_terms`,
  :func:`hub_server.services.search.variant_facts`).

Before writing, :func:`check_parity` publishes a few generated versions through the real
``ComponentService.publish`` (and ``yank``) into a scratch SQLite database and compares every
row, column and table they wrote with what the bulk path writes for the same versions: when the
service changes (a new column, a new index table), seeding stops and says what to teach it,
instead of quietly filling a database the server would never produce.

Writes are plain bulk SQL: ``executemany`` on SQLite (synchronous off while seeding), ``COPY``
on PostgreSQL (then ``ANALYZE``, as autovacuum would). Seeding is deterministic (component
``i`` is always the same) and appends: ``--start K`` (default: the synthetic components already
there) continues a database seeded up to ``K``.

Usage::

    python -m bench.seed --data-dir /tmp/hub --components 100000 --versions 1000000
    python -m bench.seed --database-url postgresql://hub:hub@127.0.0.1/bench --data-dir /tmp/hub
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, col, select

from hub_server import semver
from hub_server.archive import ArchiveLimits, pack
from hub_server.db import is_sqlite, make_engine, migrate
from hub_server.manifest import Manifest
from hub_server.models import (
    Component,
    ComponentTag,
    ComponentVariant,
    Namespace,
    NamespaceOwner,
    SearchTerm,
    User,
    Version,
)
from hub_server.services import components as component_service
from hub_server.services import search
from hub_server.services.auth import AuthService, Principal
from hub_server.settings import Settings
from hub_server.storage import BlobStorage, open_storage

__all__ = [
    "ComponentPlan",
    "SeedError",
    "SeedStats",
    "Template",
    "check_parity",
    "make_templates",
    "seed",
]

DEFAULT_COMPONENTS = 100_000
DEFAULT_VERSIONS = 1_000_000
BLOCK = 100
"""Components come in blocks of 100 with a fixed shape (namespace sizes, version counts), so a
database of N components (N a multiple of 100) holds exactly N x versions-per-component."""
BATCH_COMPONENTS = 5_000
EPOCH = datetime(2023, 1, 2, tzinfo=UTC)
NOW = datetime(2026, 11, 1, tzinfo=UTC)
"""Fixed, so that two seedings give the same rows."""
RESERVED_NAMESPACES = ("library",)
"""Namespaces that are not synthetic (``hub serve`` publishes the built-ins into ``library``)."""


class SeedError(RuntimeError):
    """The seeder no longer matches the service layer (or the database is not seedable)."""


# ----------------------------------------------------------------------------- word pools

CATEGORIES: dict[str, float] = {
    "data-ingestion": 0.16,
    "data-splitting": 0.05,
    "preprocessing": 0.22,
    "training": 0.24,
    "evaluation": 0.12,
    "visualization": 0.07,
    "deployment": 0.08,
    "other": 0.06,
}
VERBS = {
    "data-ingestion": ["load", "read", "fetch", "import", "ingest", "download", "query", "scrape"],
    "data-splitting": ["split", "sample", "partition", "stratify", "shuffle", "fold"],
    "preprocessing": [
        "clean", "normalize", "encode", "impute", "scale", "tokenize", "featurize", "filter",
        "dedupe", "transform", "resize", "augment",
    ],
    "training": ["train", "fit", "finetune", "tune", "pretrain", "distill"],
    "evaluation": ["evaluate", "score", "validate", "compare", "benchmark", "test"],
    "visualization": ["plot", "visualize", "chart", "render", "report", "summarize"],
    "deployment": ["deploy", "serve", "export", "push", "register", "promote", "package"],
    "other": ["notify", "convert", "archive", "sync", "schedule", "log", "hash"],
}  # fmt: skip
OBJECTS = {
    "data-ingestion": [
        "csv", "parquet", "bigquery", "s3", "gcs", "postgres", "mysql", "kafka", "huggingface",
        "images", "json", "snowflake", "delta", "api", "sftp", "mongodb",
    ],
    "data-splitting": ["dataset", "train-test", "timeseries", "kfold", "groups", "images"],
    "preprocessing": [
        "text", "images", "audio", "tabular", "features", "categoricals", "timeseries", "missing",
        "outliers", "embeddings", "tokens", "columns",
    ],
    "training": [
        "xgboost", "lightgbm", "sklearn", "pytorch", "tensorflow", "keras", "bert", "resnet",
        "llama", "t5", "catboost", "prophet", "yolo", "vit", "gpt2", "lstm", "svm", "lora",
    ],
    "evaluation": [
        "classifier", "regressor", "detector", "ranker", "forecast", "llm", "model", "auc",
        "bleu", "fairness", "drift",
    ],
    "visualization": [
        "confusion-matrix", "roc", "metrics", "embeddings", "shap", "histogram", "curves",
        "dashboard", "tensorboard",
    ],
    "deployment": [
        "kserve", "seldon", "vertex", "sagemaker", "onnx", "triton", "model", "registry",
        "endpoint", "bentoml",
    ],
    "other": ["slack", "email", "artifacts", "metadata", "webhook", "files", "secrets"],
}  # fmt: skip
QUALIFIERS = [
    "", "v2", "fast", "distributed", "batch", "streaming", "lite", "pro", "gpu", "spark", "dask",
    "ray", "incremental", "multi", "auto",
]  # fmt: skip
TAGS = {
    "data-ingestion": ["io", "etl", "connector", "sql", "cloud", "storage", "streaming"],
    "data-splitting": ["sampling", "cross-validation", "split", "stratified"],
    "preprocessing": ["nlp", "vision", "audio", "tabular", "feature-engineering", "cleaning"],
    "training": [
        "classification", "regression", "deep-learning", "gradient-boosting", "llm",
        "fine-tuning", "computer-vision", "nlp", "timeseries", "distributed", "cuda",
    ],
    "evaluation": ["metrics", "validation", "fairness", "explainability", "monitoring"],
    "visualization": ["plots", "reporting", "dashboards", "explainability"],
    "deployment": ["serving", "inference", "mlops", "kubernetes", "onnx", "registry"],
    "other": ["utility", "notifications", "mlops", "automation"],
}  # fmt: skip
COMMON_TAGS = ["python", "kfp", "production", "experimental", "pandas", "numpy", "gpu", "beta"]
BIG_ORGS = [
    "kubeflow", "google-cloud", "nvidia", "acme-ml", "databricks", "huggingface", "aws-samples",
    "mlcommons", "intel-ai", "redhat-ai", "ibm-research", "microsoft-ai", "zalando-ml",
    "spotify-ml", "shopify-data", "uber-ai", "netflix-ml", "airbnb-data", "pinterest-ml",
    "canonical-ml",
]  # fmt: skip
FIRST = [
    "ann", "bob", "carla", "dmitri", "eva", "farid", "gina", "hiro", "ines", "jonas", "kira",
    "liam", "mei", "nadia", "omar", "priya", "quinn", "rosa", "sven", "tara", "umar", "vera",
    "wei", "xena", "yusuf", "zoe", "arjun", "beatriz", "chen", "diego", "elif", "femi",
]  # fmt: skip
LAST = [
    "lee", "smith", "garcia", "kim", "muller", "rossi", "silva", "nguyen", "patel", "cohen",
    "ivanova", "tanaka", "dubois", "novak", "haddad", "okafor", "larsen", "moreau", "santos",
    "weber", "jansen", "kowalski", "yilmaz", "andersen",
]  # fmt: skip
ADJ = [
    "quantum", "bright", "deep", "open", "swift", "blue", "lambda", "vector", "tensor", "sparse",
    "agile", "north", "cobalt", "amber", "silver", "delta", "polar", "crimson", "rapid", "neural",
]  # fmt: skip
NOUN = [
    "labs", "data", "ml", "ai", "analytics", "works", "systems", "research", "insights",
    "robotics", "vision", "health", "finance", "genomics", "retail", "energy",
]  # fmt: skip
_VOCAB_TEXT = (
    "data model training pipeline dataset input output features parameters metrics gpu cpu "
    "memory batch learning rate epochs accuracy loss validation test split column target label "
    "csv parquet bucket path artifact image container kubernetes kubeflow component version "
    "python sklearn pytorch tensorflow xgboost lightgbm transformer tokenizer embedding vector "
    "classification regression cluster inference serving endpoint latency throughput scale "
    "distributed worker node cluster storage cloud bigquery snowflake s3 gcs azure schema "
    "preprocessing normalization encoding imputation outlier augmentation sampling stratified "
    "fold cross evaluation precision recall f1 auc roc confusion matrix report plot chart "
    "histogram dashboard tensorboard checkpoint resume seed reproducible deterministic cache "
    "logging monitoring drift fairness explainability shap lime feature importance hyperparameter "
    "tuning search grid random bayesian optuna early stopping scheduler optimizer adam sgd "
    "weight decay dropout layer attention head fine tune lora quantization pruning distillation "
    "export onnx triton kserve seldon registry promote deploy canary rollback secret credential "
    "service account permission network timeout retry error warning example usage license "
    "apache mit contribution issue changelog release notes requirements dependency install "
    "environment variable argument default optional required string integer float boolean list "
    "dict json yaml file folder directory local remote url download upload stream kafka topic "
    "partition offset window aggregate join filter group sort dedupe clean missing null value "
    "timestamp timezone date time series forecast prophet arima seasonal trend anomaly detection "
    "image resize crop normalize pixel channel rgb mask segmentation detection bounding box yolo "
    "resnet vit bert gpt llama t5 text token sentence document language translation summarization "
    "question answering chat prompt completion generation sampling temperature audio spectrogram "
    "speech recognition waveform sample rate mel frequency recommendation ranking retrieval index "
    "similarity nearest neighbor faiss annoy graph edge vertex reinforcement policy reward agent "
    "environment simulation benchmark baseline experiment run tracking mlflow wandb artifact store"
)
VOCAB = _VOCAB_TEXT.split()


# ----------------------------------------------------------------------------- templates

_SPEC_INPUT = {
    "data": ("Dataset", "The input data (CSV or Parquet)."),
    "train_data": ("Dataset", "Training data: feature columns and the target column."),
    "test_data": ("Dataset", "Held-out data the model is scored on."),
    "model": ("Model", "A trained model artifact."),
    "source_uri": ("String", "Where to read from (gs://, s3://, https:// or a table name)."),
    "target_column": ("String", "Name of the column to predict."),
    "test_size": ("Float", "Share of rows held out for testing, in (0, 1)."),
    "random_state": ("Integer", "Seed for every random choice, for reproducible runs."),
    "epochs": ("Integer", "Passes over the training data."),
    "learning_rate": ("Float", "Step size of the optimizer."),
    "batch_size": ("Integer", "Rows per optimizer step."),
    "device": ("String", "cpu, or cuda for an NVIDIA GPU (set by the gpu hardware variant)."),
    "threshold": ("Float", "Decision threshold for positive predictions."),
    "endpoint": ("String", "Name of the serving endpoint to create or update."),
    "replicas": ("Integer", "Serving replicas."),
    "columns": ("String", "Comma-separated list of columns to keep (empty: all)."),
}
_DEFAULTS = {
    "target_column": "target",
    "test_size": "0.2",
    "random_state": "42",
    "epochs": "10",
    "learning_rate": "0.001",
    "batch_size": "64",
    "device": "cpu",
    "threshold": "0.5",
    "replicas": "1",
    "columns": "",
}
_SPEC_OUTPUT = {
    "data-ingestion": [("dataset", "Dataset", "The data, as CSV.")],
    "data-splitting": [
        ("train", "Dataset", "The training rows."),
        ("test", "Dataset", "The held-out rows."),
    ],
    "preprocessing": [("output_data", "Dataset", "The transformed data.")],
    "training": [
        ("trained_model", "Model", "The trained model (joblib or a framework checkpoint)."),
        ("metrics", "Metrics", "Training metrics."),
    ],
    "evaluation": [("scores", "Metrics", "Scores on the test data.")],
    "visualization": [("report", "HTML", "An HTML report with the plots.")],
    "deployment": [("endpoint_url", "String", "The URL the model is served at.")],
    "other": [("done", "String", "What was done, for the next step.")],
}
_TEMPLATE_INPUTS = {
    "data-ingestion": [["source_uri"], ["source_uri", "columns"], ["source_uri", "random_state"]],
    "data-splitting": [["data", "test_size"], ["data", "test_size", "random_state"]],
    "preprocessing": [["data"], ["data", "columns"], ["data", "columns", "device"]],
    "training": [
        ["train_data", "target_column", "device"],
        ["train_data", "target_column", "epochs", "learning_rate", "batch_size", "device"],
        ["train_data", "target_column", "random_state"],
    ],
    "evaluation": [["model", "test_data", "target_column"], ["model", "test_data", "threshold"]],
    "visualization": [["data"], ["model", "test_data", "target_column"]],
    "deployment": [["model", "endpoint"], ["model", "endpoint", "replicas", "device"]],
    "other": [["data"], ["source_uri"]],
}


@dataclass(frozen=True)
class Template:
    """One kind of package: a KFP spec checked by the service, with a real archive in storage."""

    key: str
    category: str
    spec_yaml: str
    interface: dict[str, Any]
    digest: str
    size: int
    has_device: bool


def _pinned(name: str) -> str:
    import hashlib

    return f"ghcr.io/bench/{name}@sha256:{hashlib.sha256(name.encode()).hexdigest()}"


def _spec_yaml(key: str, category: str, inputs: Sequence[str]) -> str:
    doc: dict[str, Any] = {
        "name": key.replace("-", " ").title(),
        "description": f"A synthetic {category} component ({key}) for the hub's benchmarks.",
        "inputs": [],
        "outputs": [],
    }
    args: list[Any] = []
    for name in inputs:
        kind, description = _SPEC_INPUT[name]
        item: dict[str, Any] = {"name": name, "type": kind, "description": description}
        if name in _DEFAULTS:
            item.update(default=_DEFAULTS[name], optional=True)
        doc["inputs"].append(item)
        placeholder = "inputPath" if kind in ("Dataset", "Model") else "inputValue"
        args += [f"--{name.replace('_', '-')}", {placeholder: name}]
    for name, kind, description in _SPEC_OUTPUT[category]:
        doc["outputs"].append({"name": name, "type": kind, "description": description})
        placeholder = "outputPath"
        args += [f"--{name.replace('_', '-')}", {placeholder: name}]
    doc["implementation"] = {
        "container": {
            "image": _pinned(f"template-{key}"),
            "command": ["python", "-m", f"bench_components.{key.replace('-', '_')}"],
            "args": args,
        }
    }
    return yaml.safe_dump(doc, sort_keys=False, width=100)


def _write_package(folder: Path, files: dict[str, str]) -> bytes:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return pack(folder)


def make_templates(storage: BlobStorage, workdir: Path) -> list[Template]:
    """Build every package kind, check it with the service's validator, store its archive.

    Args:
        storage: where the archives go (the hub's blob storage).
        workdir: a scratch folder for the package folders.

    Returns:
        The templates, in a fixed order.
    """
    templates = []
    for category, variants in _TEMPLATE_INPUTS.items():
        for n, inputs in enumerate(variants):
            key = f"{category}-{n}"
            spec = _spec_yaml(key, category, inputs)
            manifest = {
                "name": key,
                "version": "1.0.0",
                "description": f"Template package {key} of the benchmark seeder.",
                "category": category,
                "license": "Apache-2.0",
                "authors": ["bench"],
            }
            data = _write_package(
                workdir / "templates" / key,
                {
                    "hub.yaml": yaml.safe_dump(manifest, sort_keys=False),
                    "component.yaml": spec,
                    "README.md": f"# {key}\n\nA template package of the benchmark seeder.\n",
                },
            )
            package = component_service.validate_package(
                data, namespace="bench", name=key, limits=ArchiveLimits()
            )
            storage.put(package.digest, package.data)
            templates.append(
                Template(
                    key=key,
                    category=category,
                    spec_yaml=package.spec_yaml,
                    interface=package.interface,
                    digest=package.digest,
                    size=len(package.data),
                    has_device="device" in inputs,
                )
            )
    return templates


# ----------------------------------------------------------------------------- plans


@dataclass(frozen=True)
class VersionPlan:
    text: str
    """As written in hub.yaml (may carry build metadata)."""
    parsed: semver.Version
    published_at: datetime
    yanked_reason: str | None
    yanked_at: datetime | None
    pulls: int


@dataclass(frozen=True)
class ComponentPlan:
    """Everything about synthetic component ``index``; a pure function of the index."""

    index: int
    namespace: str
    name: str
    document: dict[str, Any]
    """The hub.yaml document, without ``version``."""
    readme: str
    template: str
    versions: tuple[VersionPlan, ...]
    owner: str = field(default="")


def _weighted(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _block_shape(per_component: float) -> tuple[list[int], list[int], list[int]]:
    """The fixed shape of a block: namespace slot and version count of each position."""
    rng = random.Random(20261123)
    # Namespace sizes in a block: slot 0 goes to one of the big organisations; the long tail of
    # small namespaces holds the rest (1 to 12 components each).
    sizes = [30, 12, 8, 6, 5, 4, 4, 3, 3, 3, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
    assert sum(sizes) == BLOCK
    slots = [slot for slot, size in enumerate(sizes) for _ in range(size)]
    ranks = [rank for size in sizes for rank in range(size)]
    # Versions: a long tail (most components have a few, some have a hundred), exact sum.
    total = round(per_component * BLOCK)
    if total < BLOCK:
        raise SeedError("every component needs at least one version (versions >= components)")
    raw = [math.exp(rng.gauss(0, 1.1)) for _ in range(BLOCK)]
    scale = (total - BLOCK) / sum(raw)
    counts = [1 + int(r * scale) for r in raw]
    order = sorted(range(BLOCK), key=lambda k: -raw[k])
    k = 0
    while sum(counts) < total:
        counts[order[k % BLOCK]] += 1
        k += 1
    positions = list(range(BLOCK))
    rng.shuffle(positions)
    return slots, ranks, [counts[p] for p in positions]


def _namespace(block: int, slot: int) -> str:
    if slot == 0:
        return BIG_ORGS[block % len(BIG_ORGS)]
    serial = block * 25 + slot - 1  # 25 small namespaces per block, each name distinct
    style, k = serial % 4, serial // 4
    # Each style has its own shape, so styles never collide; within a style, the word pattern
    # repeats every `combos` names and a numeric suffix tells the rounds apart.
    patterns: list[tuple[int, Callable[[int], str]]] = [
        (len(FIRST) * len(LAST), lambda j: f"{FIRST[j % 32]}-{LAST[j // 32]}"),
        (len(FIRST) * len(LAST), lambda j: f"{FIRST[j % 32]}{LAST[j // 32]}"),
        (len(ADJ) * len(NOUN), lambda j: f"{ADJ[j % 20]}-{NOUN[j // 20]}"),
        (len(ADJ), lambda j: f"team-{ADJ[j]}"),
    ]
    combos, pattern = patterns[style]
    rounds = k // combos
    return pattern(k % combos) + (f"-{rounds}" if rounds else "")


def _component_name(category: str, ns_key: int, rank: int) -> str:
    verbs, objects = VERBS[category], OBJECTS[category]
    base = len(verbs) * len(objects)
    # A namespace never holds two components of the same name: its ranks walk a permutation of
    # verb x object pairs, then again with each qualifier, then with a number.
    tier, r = divmod(rank, base)
    k = (r * 7919 + ns_key * 104729) % base
    qualifier = QUALIFIERS[tier % len(QUALIFIERS)]
    rounds = tier // len(QUALIFIERS)
    name = f"{verbs[k % len(verbs)]}-{objects[k // len(verbs)]}"
    name += (f"-{qualifier}" if qualifier else "") + (f"-{rounds + 1}" if rounds else "")
    return name[:64]


def _hardware(rng: random.Random, template: Template, name: str) -> dict[str, Any]:
    cpu = {
        "resources": {
            "cpu": rng.choice(["500m", "1", "2", "4", "8"]),
            "memory": rng.choice(["1Gi", "2Gi", "4Gi", "8Gi", "16Gi", "32Gi"]),
        }
    }
    if rng.random() < 0.3:
        cpu["resources"]["limits"] = {"memory": rng.choice(["8Gi", "16Gi", "32Gi", "64Gi"])}
    if template.has_device:
        cpu["arguments"] = {"device": "cpu"}
    shape = rng.random() if template.has_device or template.category == "training" else 1.0
    if shape >= 0.6:  # CPU only (about three components in four overall)
        return {"default": "cpu", "variants": {"cpu": cpu}}
    model, kind = rng.choice(
        [
            ("nvidia-tesla-t4", "nvidia.com/gpu"),
            ("nvidia-tesla-t4", "nvidia.com/gpu"),
            ("nvidia-l4", "nvidia.com/gpu"),
            ("nvidia-a100", "nvidia.com/gpu"),
            ("nvidia-h100", "nvidia.com/gpu"),
            ("nvidia-tesla-v100", "nvidia.com/gpu"),
            ("amd-mi250", "amd.com/gpu"),
        ]
    )
    gpu: dict[str, Any] = {
        "description": f"One {model} GPU.",
        "image": _pinned(f"{name}-cuda"),
        "resources": {"cpu": "4", "memory": rng.choice(["16Gi", "32Gi", "64Gi"])},
        "accelerator": {"type": kind, "count": 1, "model": model},
    }
    if template.has_device:
        gpu["arguments"] = {"device": "cuda"}
    if shape < 0.1:  # GPU only
        return {"default": "gpu", "variants": {"gpu": gpu}}
    variants = {"cpu": cpu, "gpu": gpu}
    if shape < 0.16:
        multi = json.loads(json.dumps(gpu))
        multi["accelerator"]["count"] = 4
        multi["description"] = f"Four {model} GPUs on one node."
        multi["resources"]["memory"] = "128Gi"
        variants["gpu-x4"] = multi
    return {"default": "cpu", "variants": variants}


def _sentence(rng: random.Random, words: Sequence[str]) -> str:
    n = rng.randint(6, 14)
    text = " ".join(rng.choices(VOCAB, k=n - 2) + list(rng.sample(list(words), 2)))
    return text[0].upper() + text[1:] + "."


def _readme(
    rng: random.Random, ref: str, description: str, template: Template, words: Sequence[str]
) -> str:
    inputs = "\n".join(
        f"- `{item['name']}` ({item['type']}): {item['description']}"
        for item in template.interface["inputs"]
    )
    outputs = "\n".join(
        f"- `{item['name']}` ({item['type']}): {item['description']}"
        for item in template.interface["outputs"]
    )
    notes = " ".join(_sentence(rng, words) for _ in range(rng.randint(4, 10)))
    return (
        f"# {ref}\n\n{description}\n\n## Inputs\n\n{inputs}\n\n## Outputs\n\n{outputs}\n\n"
        f"## Usage\n\n```python\nfrom hub_cli import load_component\n\n"
        f'op = load_component("{ref}@^1")\n```\n\n## Notes\n\n{notes}\n'
    )


def _version_plans(
    rng: random.Random, count: int, created: datetime, popularity: float
) -> tuple[VersionPlan, ...]:
    release = (0, 1, 0) if rng.random() < 0.35 else (1, 0, 0)
    texts: list[str] = []
    while len(texts) < count:
        if texts and rng.random() < 0.03:  # release candidates before the next release
            for rc in range(1, rng.randint(1, 2) + 1):
                if len(texts) < count:
                    texts.append(f"{release[0]}.{release[1]}.{release[2]}-rc.{rc}")
        if len(texts) < count:
            build = f"+build.{rng.randint(1, 999)}" if rng.random() < 0.01 else ""
            texts.append(f"{release[0]}.{release[1]}.{release[2]}{build}")
        roll = rng.random()
        major, minor, patch = release
        release = (
            (major + 1, 0, 0)
            if roll < 0.05
            else (major, minor + 1, 0)
            if roll < 0.3
            else (major, minor, patch + 1)
        )
    span = (NOW - created).total_seconds()
    times = sorted(rng.random() * span for _ in range(count))
    weights = [0.3 + k for k in range(count)]
    total_pulls = int(popularity)
    plans = []
    for k, text in enumerate(texts):
        at = created + timedelta(seconds=times[k])
        yanked = rng.random() < 0.02
        plans.append(
            VersionPlan(
                text=text,
                parsed=semver.Version.parse(text),
                published_at=at,
                yanked_reason=rng.choice(["broken build", "security fix in next", "wrong image"])
                if yanked
                else None,
                yanked_at=at + timedelta(days=rng.randint(1, 30)) if yanked else None,
                pulls=int(total_pulls * weights[k] / sum(weights)),
            )
        )
    return tuple(plans)


class Planner:
    """Builds :class:`ComponentPlan` s for a fixed versions-per-component ratio."""

    def __init__(self, templates: Sequence[Template], per_component: float, seed: int = 1) -> None:
        self.templates = list(templates)
        self.by_category: dict[str, list[Template]] = {}
        for template in self.templates:
            self.by_category.setdefault(template.category, []).append(template)
        self.slots, self.ranks, self.counts = _block_shape(per_component)
        self.seed = seed

    def plan(self, index: int, *, versions: int | None = None) -> ComponentPlan:
        block, position = divmod(index, BLOCK)
        slot, rank = self.slots[position], self.ranks[position]
        namespace = _namespace(block, slot)
        if slot == 0:  # big organisations collect 30 components from every 20th block
            rank += block // len(BIG_ORGS) * 30
            ns_key = block % len(BIG_ORGS)
        else:
            ns_key = len(BIG_ORGS) + block * 25 + slot
        rng = random.Random(self.seed * 1_000_003 + index)
        category = _weighted(rng, CATEGORIES)
        template = rng.choice(self.by_category[category])
        name = _component_name(category, ns_key, rank)
        ref = f"{namespace}/{name}"
        words = [*name.split("-"), category.split("-")[0]]
        tags = sorted(
            set(rng.sample(TAGS[category], k=min(len(TAGS[category]), rng.randint(1, 4))))
            | set(rng.sample(COMMON_TAGS, k=rng.randint(0, 2)))
            | {w for w in words if len(w) > 2 and rng.random() < 0.5}
        )
        hardware = _hardware(rng, template, name)
        if any(v.get("accelerator") for v in hardware["variants"].values()):
            tags = sorted({*tags, "gpu"})
        description = (
            f"{name.split('-')[0].title()} {' '.join(name.split('-')[1:])} "
            f"{rng.choice(['for', 'in', 'with', 'on'])} Kubeflow Pipelines: "
            + " ".join(rng.choices(VOCAB, k=rng.randint(8, 30)))
            + "."
        )[:500]
        document: dict[str, Any] = {
            "name": name,
            "version": "0.0.0",
            "description": description,
            "category": category,
            "tags": tags[:20],
            "license": rng.choice(["Apache-2.0"] * 6 + ["MIT"] * 3 + ["BSD-3-Clause"]),
            "authors": [
                f"{rng.choice(FIRST).title()} {rng.choice(LAST).title()}"
                for _ in range(rng.randint(1, 3))
            ],
            "component": "component.yaml",
            "readme": "README.md",
            "hardware": hardware,
        }
        if rng.random() < 0.5:
            document["repository"] = f"https://github.com/{namespace}/{name}"
        if rng.random() < 0.8:
            document["image"] = _pinned(name)
        created = EPOCH + timedelta(seconds=rng.random() * (NOW - EPOCH).total_seconds() * 0.9)
        popularity = 10 ** rng.uniform(0, 4.5)
        count = versions if versions is not None else self.counts[position]
        return ComponentPlan(
            index=index,
            namespace=namespace,
            name=name,
            document=document,
            readme=_readme(rng, ref, description, template, words),
            template=template.key,
            versions=_version_plans(rng, count, created, popularity),
            owner=namespace,
        )


# ----------------------------------------------------------------------------- rows


@dataclass
class Rows:
    """Rows for every table, as dicts of column → Python value (as the ORM would bind)."""

    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, table: str, row: dict[str, Any]) -> None:
        self.tables.setdefault(table, []).append(row)

    def extend(self, table: str, rows: Iterable[dict[str, Any]]) -> None:
        self.tables.setdefault(table, []).extend(rows)


def _manifest(plan: ComponentPlan, version_text: str, cache: dict[str, Any]) -> dict[str, Any]:
    """``publish`` stores ``Manifest.model_dump(mode="json", exclude_none=True)``."""
    base = cache.get("base")
    if base is None:
        base = Manifest.model_validate(plan.document).model_dump(mode="json", exclude_none=True)
        cache["base"] = base
    return {**base, "version": version_text}


def _images(manifest: dict[str, Any], template: Template) -> tuple[str | None, bool, list[Any]]:
    """``image``, ``image_pinned`` and ``images`` as publish records them for pinned refs."""
    main = manifest.get("image") or template.interface.get("image")
    refs = [main] + [v.get("image") for v in manifest["hardware"]["variants"].values()]
    unique = list(dict.fromkeys(ref for ref in refs if ref))
    images = [
        {
            "ref": ref,
            "resolved": ref,
            "digest": ref.rpartition("@")[2],
            "pinned": True,
            "error": None,
        }
        for ref in unique
    ]
    return main, bool(main), images


def component_rows(
    plan: ComponentPlan,
    template: Template,
    *,
    component_id: int,
    first_version_id: int,
    publisher_id: int,
) -> Rows:
    """The rows ``publish`` (and ``yank``) leave behind for every version of ``plan``.

    Args:
        plan: the component.
        template: its package kind.
        component_id: the id its ``components`` row gets.
        first_version_id: the id of its first version; the others follow.
        publisher_id: the user who published it.

    Returns:
        Rows for ``components``, ``versions``, ``component_tags``, ``search_terms`` and
        ``component_variants``.
    """
    rows = Rows()
    cache: dict[str, Any] = {}
    version_rows = []
    for k, v in enumerate(plan.versions):
        manifest = _manifest(plan, v.text, cache)
        image, pinned, images = _images(manifest, template)
        parsed = v.parsed
        version_rows.append(
            {
                "id": first_version_id + k,
                "component_id": component_id,
                "version": str(parsed),
                "major": parsed.major,
                "minor": parsed.minor,
                "patch": parsed.patch,
                "prerelease": ".".join(str(p) for p in parsed.prerelease),
                "digest": template.digest,
                "size": template.size,
                "manifest": manifest,
                "interface": template.interface,
                "spec_yaml": template.spec_yaml,
                "readme": plan.readme,
                "image": image,
                "image_pinned": pinned,
                "images": images,
                "publisher_id": publisher_id,
                "published_at": v.published_at,
                "yanked": v.yanked_reason is not None,
                "yanked_reason": v.yanked_reason,
                "yanked_at": v.yanked_at,
                "forked_from": None,
                "forked_from_digest": None,
                "pulls": v.pulls,
            }
        )
    rows.extend("versions", version_rows)
    # As ComponentService._refresh_latest: the highest non-yanked release, else prerelease.
    ordered = sorted(
        zip(plan.versions, version_rows, strict=True), key=lambda pair: pair[0].parsed, reverse=True
    )
    live = [pair for pair in ordered if pair[0].yanked_reason is None]
    candidates = [pair for pair in live if not pair[1]["prerelease"]] or live
    component: dict[str, Any] = {
        "id": component_id,
        "namespace": plan.namespace,
        "name": plan.name,
        "description": "",
        "category": "other",
        "tags": [],
        "search_text": "",
        "latest_version": None,
        "versions_count": len(plan.versions),
        "hardware_variants": [],
        "has_gpu": False,
        "has_cpu_only": True,
        "forks_count": 0,
        "pulls": sum(v.pulls for v in plan.versions),
        # Each publish and each yank bumps it once.
        "revision": len(plan.versions) + sum(v.yanked_reason is not None for v in plan.versions),
        "parent_id": None,
        "parent_ref": None,
        "parent_digest": None,
        "created_at": plan.versions[0].published_at,
        "updated_at": max(v.published_at for v in plan.versions),
    }
    if candidates:
        latest = candidates[0][1]
        manifest = latest["manifest"]
        tags = list(manifest.get("tags") or [])
        description = manifest.get("description", "")
        variants, has_gpu, has_cpu_only = component_service._hardware_flags(
            manifest.get("hardware") or {}
        )
        component.update(
            latest_version=latest["version"],
            description=description,
            category=manifest.get("category", "other"),
            tags=tags,
            hardware_variants=variants,
            has_gpu=has_gpu,
            has_cpu_only=has_cpu_only,
            search_text=" ".join([plan.namespace, plan.name, description.lower(), *tags]).lower(),
        )
        rows.extend(
            "component_tags",
            ({"component_id": component_id, "tag": tag} for tag in sorted(set(tags))),
        )
        terms = search.document_terms(
            namespace=plan.namespace,
            name=plan.name,
            description=str(manifest.get("description") or ""),
            tags=tags,
            readme=latest["readme"],
        )
        rows.extend(
            "search_terms",
            (
                {"component_id": component_id, "term": t, "weight": w, "has_gpu": has_gpu}
                for t, w in terms.items()
            ),
        )
        rows.extend(
            "component_variants",
            (
                {"component_id": component_id, **facts}
                for facts in search.variant_facts(manifest.get("hardware") or {})
            ),
        )
    rows.tables["components"] = [component]
    return rows


# ----------------------------------------------------------------------------- writing

SEEDED_TABLES = (
    "users",
    "namespaces",
    "namespace_owners",
    "components",
    "versions",
    "component_tags",
    "search_terms",
    "component_variants",
)
"""Insertion order (foreign keys first)."""


def check_columns(rows: Rows) -> None:
    """Every column the bulk rows name exists, and no NOT NULL column without a default is left
    out: the first sign that the models moved on without the seeder.

    Raises:
        SeedError: naming the table and columns.
    """
    for name, table_rows in rows.tables.items():
        if not table_rows:
            continue
        table = SQLModel.metadata.tables[name]
        given = set(table_rows[0])
        unknown = given - set(table.columns.keys())
        required = {
            c.name
            for c in table.columns
            if not c.nullable
            and c.server_default is None
            and c.default is None
            and not (c.primary_key and c.autoincrement is True)
        }
        missing = required - given
        if unknown or missing:
            raise SeedError(
                f"bench/seed.py is out of date for table {name}: "
                f"unknown columns {sorted(unknown)}, unfilled columns {sorted(missing)}"
            )


class BulkWriter:
    """Inserts rows by ``executemany`` (SQLite) or ``COPY`` (PostgreSQL), with each column's
    values bound exactly as SQLAlchemy binds them for this dialect."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect
        self.sqlite = is_sqlite(str(engine.url))
        self.connection = engine.raw_connection()
        self.driver: Any = self.connection.driver_connection
        if self.sqlite:
            cursor = self.driver.cursor()
            # Seeding is rebuildable: durability is not needed while it runs.
            cursor.execute("PRAGMA synchronous=OFF")
            cursor.execute("PRAGMA cache_size=-1000000")
            cursor.execute("PRAGMA temp_store=MEMORY")
            cursor.close()

    def _processors(
        self, table: sa.Table, columns: Sequence[str]
    ) -> list[Callable[[Any], Any] | None]:
        return [
            table.c[name].type.dialect_impl(self.dialect).bind_processor(self.dialect)
            for name in columns
        ]

    def insert(self, table_name: str, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        table = SQLModel.metadata.tables[table_name]
        columns = list(rows[0])
        processors = self._processors(table, columns)
        pairs = list(zip(columns, processors, strict=True))
        values = [
            tuple(p(row[c]) if p else row[c] for c, p in pairs) for row in rows
        ]  # fmt: skip
        quote = self.dialect.identifier_preparer.quote
        names = ", ".join(quote(c) for c in columns)
        cursor = self.driver.cursor()
        try:
            if self.sqlite:
                marks = ", ".join("?" for _ in columns)
                cursor.executemany(
                    f"INSERT INTO {quote(table_name)} ({names}) VALUES ({marks})", values
                )
            else:
                with cursor.copy(f"COPY {quote(table_name)} ({names}) FROM STDIN") as copy:
                    for value in values:
                        copy.write_row(value)
        finally:
            cursor.close()

    def execute(self, sql: str) -> list[Any]:
        cursor = self.driver.cursor()
        try:
            cursor.execute(sql)
            return list(cursor.fetchall()) if cursor.description else []
        finally:
            cursor.close()

    def commit(self) -> None:
        self.connection.commit()

    def close(self) -> None:
        self.connection.close()


@dataclass
class SeedStats:
    components: int = 0
    versions: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    method: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "components": self.components,
            "versions": self.versions,
            "rows": self.rows,
            "seconds": round(self.seconds, 1),
            "method": self.method,
        }


def existing_synthetic(engine: Engine) -> int:
    """How many synthetic components the database holds (all but the reserved namespaces)."""
    with Session(engine) as session:
        count: int = session.exec(
            select(sa.func.count())
            .select_from(Component)
            .where(col(Component.namespace).not_in(RESERVED_NAMESPACES))
        ).one()
    return count


def _next_ids(writer: BulkWriter) -> dict[str, int]:
    ids = {}
    for table in ("users", "components", "versions"):
        rows = writer.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")
        ids[table] = int(rows[0][0]) + 1
    return ids


def seed(
    engine: Engine,
    storage: BlobStorage,
    *,
    stop: int,
    per_component: float,
    start: int | None = None,
    workdir: Path | None = None,
    progress: Callable[[str], None] | None = None,
    check: bool = True,
) -> SeedStats:
    """Add synthetic components ``start`` … ``stop - 1`` (and their versions) to a migrated
    database, and their archives to ``storage``.

    Args:
        engine: the hub's database (migrated to head).
        storage: the hub's blob storage.
        stop: the number of synthetic components the database holds afterwards.
        per_component: versions per component, on average (exact per block of 100).
        start: the first component to add; default: the synthetic ones already there.
        workdir: scratch folder for template packages (default: a temporary one).
        progress: called with a line of progress now and then.
        check: run :func:`check_parity` first.

    Returns:
        What was written and how long it took.

    Raises:
        SeedError: the seeder and the service disagree, or the database is not seedable.
    """
    say = progress or (lambda _line: None)
    begin = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="hub-seed-") as tmp:
        scratch = workdir or Path(tmp)
        templates = make_templates(storage, scratch)
        if check:
            check_parity(templates, per_component, scratch / "parity")
            say("parity with ComponentService.publish: ok")
    by_key = {t.key: t for t in templates}
    planner = Planner(templates, per_component)
    start = existing_synthetic(engine) if start is None else start
    stats = SeedStats(method="COPY" if not is_sqlite(str(engine.url)) else "executemany")
    if start >= stop:
        return stats
    writer = BulkWriter(engine)
    try:
        ids = _next_ids(writer)
        owners = {
            name: uid for uid, name in writer.execute("SELECT id, name FROM users")
        }  # fmt: skip
        namespaces = {row[0] for row in writer.execute("SELECT name FROM namespaces")}
        for batch_start in range(start, stop, BATCH_COMPONENTS):
            rows = Rows()
            for index in range(batch_start, min(stop, batch_start + BATCH_COMPONENTS)):
                plan = planner.plan(index)
                if plan.namespace not in namespaces:
                    namespaces.add(plan.namespace)
                    created = plan.versions[0].published_at - timedelta(minutes=1)
                    rows.add("namespaces", {"name": plan.namespace, "created_at": created})
                    if plan.owner not in owners:
                        owners[plan.owner] = ids["users"]
                        rows.add(
                            "users",
                            {
                                "id": ids["users"],
                                "name": plan.owner,
                                "is_admin": False,
                                "created_at": created,
                            },
                        )
                        ids["users"] += 1
                    rows.add(
                        "namespace_owners",
                        {"namespace": plan.namespace, "user_id": owners[plan.owner]},
                    )
                produced = component_rows(
                    plan,
                    by_key[plan.template],
                    component_id=ids["components"],
                    first_version_id=ids["versions"],
                    publisher_id=owners[plan.owner],
                )
                ids["components"] += 1
                ids["versions"] += len(plan.versions)
                for table, table_rows in produced.tables.items():
                    rows.extend(table, table_rows)
            check_columns(rows)
            for table in SEEDED_TABLES:
                table_rows = rows.tables.get(table, [])
                writer.insert(table, table_rows)
                stats.rows[table] = stats.rows.get(table, 0) + len(table_rows)
            # As every publish does: a running hub's cached listings and searches are stale now.
            writer.execute("UPDATE hub_state SET catalog_revision = catalog_revision + 1")
            writer.commit()
            stats.components += len(rows.tables["components"])
            stats.versions += len(rows.tables["versions"])
            say(
                f"{start + stats.components:>9,} components, {stats.versions:>10,} versions added"
                f" ({time.perf_counter() - begin:.0f}s)"
            )
        if writer.sqlite:
            writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        else:
            for table in ("users", "components", "versions"):
                writer.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT MAX(id) FROM {table}))"
                )
            writer.commit()
            # What autovacuum does to a table that grew this much; a bulk load without it
            # would be measured with the planner's guesses for empty tables.
            writer.driver.autocommit = True
            writer.execute("ANALYZE")
    finally:
        writer.close()
    stats.seconds = time.perf_counter() - begin
    return stats


# ----------------------------------------------------------------------------- parity

_IGNORED = {
    "id",
    "component_id",
    "published_at",
    "created_at",
    "updated_at",
    "yanked_at",
    "digest",
    "size",
    "publisher_id",
    "pulls",
    "revision",
    "user_id",
}
"""Columns that legitimately differ: ids, clocks, the shared archive, counters, publisher."""


def _table_rows(session: Session, table: str) -> list[dict[str, Any]]:
    result = session.execute(sa.select(SQLModel.metadata.tables[table]))
    return [dict(row._mapping) for row in result]


def _comparable(rows: Iterable[dict[str, Any]]) -> list[str]:
    return sorted(
        json.dumps({k: v for k, v in row.items() if k not in _IGNORED}, sort_keys=True, default=str)
        for row in rows
    )


def _parity_plans(planner: Planner) -> list[ComponentPlan]:
    """A few components that between them have a GPU variant, a CPU-only one, a prerelease,
    a yanked version and build metadata."""
    wanted = {"gpu", "cpu", "prerelease", "yanked", "build"}
    found: list[ComponentPlan] = []
    for index in range(5_000):
        plan = planner.plan(index, versions=8)
        traits = {
            "gpu" if "gpu" in plan.document["hardware"]["variants"] else "cpu",
            *(["prerelease"] if any(v.parsed.prerelease for v in plan.versions) else []),
            *(["yanked"] if any(v.yanked_reason for v in plan.versions) else []),
            *(["build"] if any("+" in v.text for v in plan.versions) else []),
        }
        if traits & wanted:
            found.append(plan)
            wanted -= traits
        if not wanted:
            break
    return found


def check_parity(templates: Sequence[Template], per_component: float, workdir: Path) -> None:
    """Publish a few planned components through the real service and compare every row.

    Raises:
        SeedError: a table or column differs (the message names it).
    """
    from hub_server.storage.local import LocalStorage

    workdir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(f"sqlite:///{workdir / 'parity.db'}")
    storage = LocalStorage(workdir / "blobs")
    planner = Planner(templates, per_component)
    by_key = {t.key: t for t in templates}
    plans = _parity_plans(planner)
    try:
        migrate(engine)
        with Session(engine, expire_on_commit=False) as session:
            AuthService(session).bootstrap_admin("hub_parity-token")
            admin = AuthService(session).authenticate("hub_parity-token")
            service = component_service.ComponentService(session, storage, ArchiveLimits())
            for plan in plans:
                template = by_key[plan.template]
                for v in plan.versions:
                    document = {**plan.document, "version": v.text}
                    data = _write_package(
                        workdir / plan.name / v.text,
                        {
                            "hub.yaml": yaml.safe_dump(document, sort_keys=False),
                            "component.yaml": template.spec_yaml,
                            "README.md": plan.readme,
                        },
                    )
                    service.publish(admin, plan.namespace, plan.name, data)
                for v in plan.versions:
                    if v.yanked_reason:
                        service.yank(
                            admin, plan.namespace, plan.name, str(v.parsed), v.yanked_reason
                        )
            _compare(session, plans, by_key, admin)
    finally:
        engine.dispose()


def _compare(
    session: Session, plans: Sequence[ComponentPlan], by_key: dict[str, Template], admin: Principal
) -> None:
    expected = Rows()
    ids = {
        (c.namespace, c.name): c.id for c in session.exec(select(Component)).all()
    }  # fmt: skip
    for plan in plans:
        produced = component_rows(
            plan,
            by_key[plan.template],
            component_id=ids[(plan.namespace, plan.name)] or 0,
            first_version_id=0,
            publisher_id=admin.id,
        )
        for table, rows in produced.tables.items():
            expected.extend(table, rows)
    check_columns(expected)
    for table in ("components", "versions", "component_tags", "search_terms", "component_variants"):
        real, ours = _comparable(_table_rows(session, table)), _comparable(expected.tables[table])
        if real != ours:
            pairs = zip(real, ours, strict=False)
            diff = next(
                (f"\n  service: {a}\n  seeder:  {b}" for a, b in pairs if a != b),
                f" ({len(real)} rows against {len(ours)})",
            )
            raise SeedError(f"bench/seed.py writes {table} differently from publish:{diff}")
    # A table publish now fills that the seeder does not know about.
    known = set(SEEDED_TABLES) | {"api_tokens", "alembic_version", "hub_state"}
    for table in SQLModel.metadata.tables:
        if table not in known and _table_rows(session, table):
            raise SeedError(f"publish now writes table {table}; teach bench/seed.py to fill it")
    # Keep the imports honest for type checkers: these are the models the rows are for.
    _ = (User, Namespace, NamespaceOwner, Version, ComponentTag, ComponentVariant, SearchTerm)


# ----------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="the hub's data dir")
    parser.add_argument("--database-url", help="default: sqlite:///<data-dir>/hub.db")
    parser.add_argument("--components", type=int, default=DEFAULT_COMPONENTS)
    parser.add_argument("--versions", type=int, default=DEFAULT_VERSIONS)
    parser.add_argument("--start", type=int, help="default: the synthetic components present")
    parser.add_argument("--no-check", action="store_true", help="skip the parity check")
    args = parser.parse_args(argv)
    settings = Settings(data_dir=args.data_dir, database_url=args.database_url)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url)
    try:
        migrate(engine)
        stats = seed(
            engine,
            open_storage(settings.resolved_storage_url),
            stop=args.components,
            per_component=args.versions / args.components,
            start=args.start,
            progress=lambda line: print(line, file=sys.stderr, flush=True),
            check=not args.no_check,
        )
    except SeedError as exc:
        raise SystemExit(f"seed: {exc}") from None
    finally:
        engine.dispose()
    print(json.dumps(stats.to_json(), indent=2))


if __name__ == "__main__":
    main()
