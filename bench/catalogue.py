"""Catalogue render times at scale: p50/p99 of the home, search and component pages.

Seeds N components (default 10 000, 2 versions each on average) into a fresh hub and times
the pages through the real app in-process (FastAPI TestClient: routing, service queries,
templates, sanitized README; no network).

Seeding is bulk SQL (``executemany`` through SQLAlchemy Core), not N publishes: publishing
validates archives and loads specs with kfp, ~10k of those would take many minutes. The
derived rows (tags, search terms, hardware facts, the component's display fields) are computed
with the very helpers the service's publish path uses (``hub_server.services.search`` and
``_hardware_flags``), so what is searched is what a publish would have indexed.

    .venv/bin/python bench/catalogue.py                   # SQLite in a temp dir
    .venv/bin/python bench/catalogue.py --postgres postgresql://hub:hub@127.0.0.1:5432/postgres
    .venv/bin/python bench/catalogue.py --components 2000 --requests 100 --json out.json
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from hub_server.app import create_app  # noqa: E402
from hub_server.manifest import Category  # noqa: E402
from hub_server.models import (  # noqa: E402
    Component,
    ComponentTag,
    ComponentVariant,
    Namespace,
    SearchTerm,
    Version,
)
from hub_server.serve import prepare  # noqa: E402
from hub_server.services import search  # noqa: E402
from hub_server.services.components import _hardware_flags  # noqa: E402
from hub_server.settings import Settings  # noqa: E402

ADMIN_TOKEN = "hub_bench-admin-token-0123456789abcdef"

DOMAIN_WORDS = [
    "data",
    "dataset",
    "csv",
    "parquet",
    "table",
    "feature",
    "features",
    "label",
    "labels",
    "train",
    "training",
    "trainer",
    "model",
    "models",
    "predict",
    "prediction",
    "inference",
    "evaluate",
    "evaluation",
    "metric",
    "metrics",
    "accuracy",
    "precision",
    "recall",
    "auc",
    "roc",
    "confusion",
    "matrix",
    "split",
    "stratified",
    "shuffle",
    "sample",
    "sampling",
    "preprocess",
    "preprocessing",
    "normalize",
    "scale",
    "encode",
    "encoding",
    "onehot",
    "impute",
    "missing",
    "outlier",
    "pipeline",
    "kubeflow",
    "component",
    "artifact",
    "container",
    "image",
    "gpu",
    "cpu",
    "cuda",
    "memory",
    "batch",
    "epoch",
    "epochs",
    "learning",
    "rate",
    "optimizer",
    "loss",
    "gradient",
    "boosted",
    "boosting",
    "tree",
    "trees",
    "forest",
    "random",
    "xgboost",
    "lightgbm",
    "catboost",
    "sklearn",
    "pytorch",
    "tensorflow",
    "keras",
    "transformer",
    "bert",
    "llm",
    "embedding",
    "embeddings",
    "vector",
    "tokenize",
    "tokenizer",
    "text",
    "nlp",
    "vision",
    "image",
    "images",
    "resnet",
    "classifier",
    "classification",
    "regression",
    "cluster",
    "clustering",
    "kmeans",
    "pca",
    "reduce",
    "dimension",
    "deploy",
    "deployment",
    "serve",
    "serving",
    "kserve",
    "endpoint",
    "monitor",
    "drift",
    "validate",
    "validation",
    "schema",
    "ingest",
    "ingestion",
    "bigquery",
    "s3",
    "gcs",
    "storage",
    "export",
    "import",
    "visualize",
    "visualization",
    "plot",
    "chart",
    "report",
    "html",
    "markdown",
    "notebook",
    "tune",
    "tuning",
    "hyperparameter",
    "search",
    "grid",
    "bayesian",
    "early",
    "stopping",
    "checkpoint",
    "distributed",
    "parallel",
    "node",
]
FILLER = [
    "the",
    "a",
    "an",
    "of",
    "to",
    "and",
    "in",
    "for",
    "with",
    "on",
    "by",
    "from",
    "this",
    "that",
    "it",
    "is",
    "are",
    "be",
    "as",
    "at",
    "or",
    "which",
    "when",
    "then",
    "uses",
    "use",
    "using",
    "run",
    "runs",
    "reads",
    "writes",
    "returns",
    "takes",
    "gives",
    "each",
    "every",
    "all",
    "its",
    "their",
    "can",
    "will",
]
TAIL = [f"term{i}" for i in range(20_000)]  # a long tail of rare words
ACCELERATORS = ["nvidia-tesla-t4", "nvidia-l4", "nvidia-tesla-a100", "nvidia-h100", "tpu-v5e"]
MEMORY = ["512Mi", "1Gi", "2Gi", "4Gi", "8Gi", "16Gi", "32Gi", "64Gi"]
SPEC_YAML = "name: Bench\nimplementation:\n  container:\n    image: python:3.11-slim\n"
INTERFACE = {
    "name": "bench",
    "description": "",
    "format": "v1",
    "image": "python:3.11-slim",
    "inputs": [
        {"name": "data", "type": "Dataset", "default": None, "optional": False,
         "description": "input data"},
        {"name": "epochs", "type": "Integer", "default": 10, "optional": True,
         "description": "passes"},
    ],
    "outputs": [{"name": "model", "type": "Model", "description": "the model"}],
}  # fmt: skip


def _words(rng: random.Random, count: int) -> list[str]:
    out = []
    for _ in range(count):
        roll = rng.random()
        if roll < 0.45:
            out.append(rng.choice(FILLER))
        elif roll < 0.9:
            out.append(rng.choice(DOMAIN_WORDS))
        else:
            out.append(TAIL[int(rng.paretovariate(1.2)) % len(TAIL)])
    return out


def _readme(rng: random.Random, name: str) -> str:
    paragraphs = [" ".join(_words(rng, rng.randint(30, 70))).capitalize() + "." for _ in range(4)]
    return (
        f"# {name}\n\n{paragraphs[0]}\n\n## Usage\n\n```python\n"
        f'op = load_component("ns/{name}@^1.0")\n```\n\n{paragraphs[1]}\n\n'
        "| input | type |\n|---|---|\n| data | Dataset |\n| epochs | Integer |\n\n"
        + "\n\n".join(paragraphs[2:])
        + "\n"
    )


def _hardware(rng: random.Random) -> dict[str, Any]:
    cpu = {"resources": {"cpu": str(rng.choice([1, 2, 4])), "memory": rng.choice(MEMORY[:6])}}
    if rng.random() < 0.6:
        return {"default": "cpu", "variants": {"cpu": cpu}}
    gpu = {
        "image": "example.org/ml/bench:1.0.0-cuda12",
        "resources": {"cpu": "8", "memory": rng.choice(MEMORY[3:])},
        "accelerator": {
            "type": "nvidia.com/gpu",
            "count": rng.choice([1, 1, 2, 4]),
            "model": rng.choice(ACCELERATORS),
        },
    }
    if rng.random() < 0.3:
        return {"default": "gpu", "variants": {"gpu": gpu}}
    return {"default": "cpu", "variants": {"cpu": cpu, "gpu": gpu}}


def seed(engine: sa.Engine, components: int, *, rng: random.Random) -> dict[str, Any]:
    """Bulk-insert ``components`` components with 1-3 versions each; returns sample keys."""
    namespaces = [f"team-{i:03d}" for i in range(max(1, components // 50))]
    categories = [c.value for c in Category]
    now = datetime.now(UTC)
    rows: dict[str, list[dict[str, Any]]] = {
        "components": [],
        "versions": [],
        "tags": [],
        "terms": [],
        "variants": [],
    }
    refs = []
    for cid in range(1, components + 1):
        namespace = rng.choice(namespaces)
        name = "-".join(rng.sample(DOMAIN_WORDS, 2)) + f"-{cid}"
        refs.append((namespace, name))
        description = " ".join(_words(rng, rng.randint(6, 14))).capitalize()[:200]
        tags = sorted(set(rng.sample(DOMAIN_WORDS, rng.randint(1, 4))))
        hardware = _hardware(rng)
        readme = _readme(rng, name)
        category = rng.choice(categories)
        n_versions = rng.choice([1, 2, 2, 3])
        updated = now - timedelta(minutes=rng.randint(0, 500_000))
        latest = f"1.{n_versions - 1}.0"
        for minor in range(n_versions):
            version = f"1.{minor}.0"
            manifest = {
                "name": name,
                "version": version,
                "description": description,
                "category": category,
                "tags": tags,
                "license": "Apache-2.0",
                "authors": ["Bench <bench@example.org>"],
                "component": "component.yaml",
                "readme": "README.md",
                "hardware": hardware,
            }
            rows["versions"].append(
                {
                    "component_id": cid,
                    "version": version,
                    "major": 1,
                    "minor": minor,
                    "patch": 0,
                    "prerelease": "",
                    "digest": "sha256:" + uuid.uuid4().hex * 2,
                    "size": 4096,
                    "manifest": manifest,
                    "interface": INTERFACE,
                    "spec_yaml": SPEC_YAML,
                    "readme": readme,
                    "image": "python:3.11-slim",
                    "image_pinned": False,
                    "images": [],
                    "published_at": updated - timedelta(days=n_versions - minor),
                    "yanked": False,
                    "pulls": rng.randint(0, 50),
                }
            )
        variants, has_gpu, has_cpu_only = _hardware_flags(hardware)
        rows["components"].append(
            {
                "id": cid,
                "namespace": namespace,
                "name": name,
                "description": description,
                "category": category,
                "tags": tags,
                "search_text": "",
                "latest_version": latest,
                "versions_count": n_versions,
                "hardware_variants": variants,
                "has_gpu": has_gpu,
                "has_cpu_only": has_cpu_only,
                "forks_count": 0,
                "pulls": int(rng.paretovariate(1.1) * 10),
                "created_at": updated - timedelta(days=30),
                "updated_at": updated,
            }
        )
        rows["tags"] += [{"component_id": cid, "tag": t} for t in tags]
        terms = search.document_terms(
            namespace=namespace, name=name, description=description, tags=tags, readme=readme
        )
        rows["terms"] += [
            {"component_id": cid, "term": t, "weight": w, "has_gpu": has_gpu}
            for t, w in terms.items()
        ]
        rows["variants"] += [{"component_id": cid, **v} for v in search.variant_facts(hardware)]

    version_columns = {c.name for c in Version.__table__.columns}  # type: ignore[attr-defined]
    versions = [{k: v for k, v in row.items() if k in version_columns} for row in rows["versions"]]
    with engine.begin() as conn:
        conn.execute(sa.insert(Namespace), [{"name": n, "created_at": now} for n in namespaces])
        conn.execute(sa.insert(Component), rows["components"])
        for table, key in (
            (Version, None),
            (ComponentTag, "tags"),
            (SearchTerm, "terms"),
            (ComponentVariant, "variants"),
        ):
            batch = versions if key is None else rows[key]
            for start in range(0, len(batch), 5000):
                conn.execute(sa.insert(table), batch[start : start + 5000])
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT setval('components_id_seq', :n)"), {"n": components})
        else:
            conn.execute(sa.text("ANALYZE"))
    if engine.dialect.name == "postgresql":
        # What autovacuum does to a settled database (PostgreSQL 13+ also after inserts):
        # statistics, and the visibility map that lets a search read only the index.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE"))
    return {"refs": refs, "terms": len(rows["terms"]), "versions": len(versions)}


def _time(client: TestClient, urls: list[str]) -> list[float]:
    timings = []
    for url in urls:
        start = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - start) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"GET {url} answered {response.status_code}: {response.text[:300]}")
    return timings


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def run(database_url: str | None, components: int, requests: int) -> dict[str, Any]:
    rng = random.Random(20261124)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            data_dir=Path(tmp),
            database_url=database_url,
            admin_token=ADMIN_TOKEN,
            log_level="WARNING",
            log_format="text",
        )
        prepare(settings)
        app = create_app(settings)
        engine = app.state.hub.engine
        started = time.perf_counter()
        sample = seed(engine, components, rng=rng)
        seeded_s = time.perf_counter() - started
        refs = sample["refs"]
        common = ["data", "model", "training", "gpu", "xgboost", "pipeline"]
        rare = [TAIL[i] for i in (3, 40, 700, 5000)]
        scenarios = {
            "home": ["/"] * requests,
            "search: one word": [f"/search?q={rng.choice(common + rare)}" for _ in range(requests)],
            "search: two words": [
                f"/search?q={rng.choice(common)}+{rng.choice(DOMAIN_WORDS)}"
                for _ in range(requests)
            ],
            "search: as you type (2 letters)": [
                f"/search?q={rng.choice(DOMAIN_WORDS)[:2]}" for _ in range(requests)
            ],
            "search: hardware filter": [
                "/search?hardware=gpu"
                f"&accelerator={rng.choice(ACCELERATORS)}&max_memory={rng.choice(MEMORY[4:])}"
                for _ in range(requests)
            ],
            "search: word + hardware, by pulls": [
                f"/search?q={rng.choice(common)}&hardware=cpu&max_memory=4Gi&sort=pulls"
                for _ in range(requests)
            ],
            "search: page 40 of all": ["/search?page=40"] * requests,
            "component page": [
                "/components/{}/{}".format(*rng.choice(refs)) for _ in range(requests)
            ],
            "component version page": [
                "/components/{}/{}/1.0.0".format(*rng.choice(refs)) for _ in range(requests)
            ],
            "namespace page": [f"/namespaces/{rng.choice(refs)[0]}" for _ in range(requests)],
        }
        results: dict[str, Any] = {}
        with TestClient(app) as client:
            for urls in scenarios.values():  # warm up caches and the connection pool
                _time(client, urls[:5])
            for label, urls in scenarios.items():
                timings = _time(client, urls)
                results[label] = {
                    "p50_ms": round(statistics.median(timings), 1),
                    "p99_ms": round(_percentile(timings, 0.99), 1),
                    "max_ms": round(max(timings), 1),
                    "requests": len(timings),
                }
        engine.dispose()
    return {
        "database": "postgresql" if database_url else "sqlite",
        "components": components,
        "versions": sample["versions"],
        "search_terms": sample["terms"],
        "seed_seconds": round(seeded_s, 1),
        "pages": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--components", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200, help="per page kind")
    parser.add_argument(
        "--postgres", metavar="SERVER_URL", help="run on a temporary database of this server"
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    database_url = None
    admin_url = args.postgres
    name = f"hub_bench_{uuid.uuid4().hex[:8]}"
    if admin_url:
        import psycopg

        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")  # type: ignore[call-overload,unused-ignore]
        database_url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        report = run(database_url, args.components, args.requests)
    finally:
        if admin_url:
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")  # type: ignore[call-overload,unused-ignore]

    print(
        f"{report['database']}: {report['components']} components, {report['versions']} versions,"
        f" {report['search_terms']} search terms (seeded in {report['seed_seconds']} s)"
    )
    print(f"{'page':<36} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for label, row in report["pages"].items():
        print(f"{label:<36} {row['p50_ms']:>8} {row['p99_ms']:>8} {row['max_ms']:>8}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
