"""Train and evaluate a model with components from a Component Hub.

Every step comes from the hub by a version range, with its hardware applied:
load-dataset → split-data → train-xgboost (or train-sklearn) → evaluate-model →
visualize-performance. The pipeline is compiled to YAML (each task carries its variant's CPU,
memory and accelerator), and with ``--local`` it runs on this machine with ``kfp.local``.

    python docs/examples/train_and_evaluate.py --hub http://127.0.0.1:8000 --local
    python docs/examples/train_and_evaluate.py --hardware gpu --output pipeline-gpu.yaml

The hub URL can also come from ``HUB_URL`` or ``hub login``.
"""

# No "from __future__ import annotations": kfp reads the pipeline's real annotations.

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

from kfp import compiler, dsl

from hub_cli import load_component

RANGE = "^1.0"


def build_pipeline(hardware: str, trainer: str):  # type: ignore[no-untyped-def]
    """Load the components from the hub and compose the pipeline function."""
    load_dataset = load_component(f"library/load-dataset@{RANGE}")
    split_data = load_component(f"library/split-data@{RANGE}")
    if trainer == "xgboost":
        train = load_component(f"library/train-xgboost@{RANGE}", hardware=hardware)
    else:
        train = load_component(f"library/train-sklearn@{RANGE}")
    evaluate_model = load_component(f"library/evaluate-model@{RANGE}")
    visualize = load_component(f"library/visualize-performance@{RANGE}")

    class Outputs(NamedTuple):
        metrics: dsl.Metrics
        report: dsl.HTML

    @dsl.pipeline(
        name="train-and-evaluate",
        description="Load, split, train, evaluate and plot, with components from the hub.",
    )
    def train_and_evaluate(dataset: str = "iris", test_fraction: float = 0.2) -> Outputs:
        data = load_dataset(name=dataset)
        split = split_data(
            dataset=data.outputs["dataset"],
            test_fraction=test_fraction,
            stratify_column="target",
        )
        model = train(train_data=split.outputs["train_data"], task=data.outputs["task"])
        scores = evaluate_model(model=model.outputs["model"], test_data=split.outputs["test_data"])
        plots = visualize(predictions=scores.outputs["predictions"])
        return Outputs(metrics=scores.outputs["metrics"], report=plots.outputs["report"])

    return train_and_evaluate


def _quantity(resources: dict, key: str) -> str:  # type: ignore[type-arg]
    # kfp keeps the quantity as written under resource<Key>, and a float under <key>.
    return str(resources.get("resource" + key[0].upper() + key[1:], "-"))


def describe_hardware(compiled: dict) -> list[str]:  # type: ignore[type-arg]
    """One line per task: its image and resources, as the compiled YAML carries them."""
    lines = []
    for name, executor in sorted(compiled["deploymentSpec"]["executors"].items()):
        container = executor["container"]
        resources = container.get("resources", {})
        accelerator = resources.get("accelerator", {})

        lines.append(
            f"  {name.removeprefix('exec-'):<24}"
            f" cpu={_quantity(resources, 'cpuRequest')}/{_quantity(resources, 'cpuLimit')}"
            f" memory={_quantity(resources, 'memoryRequest')}/{_quantity(resources, 'memoryLimit')}"
            + (
                f" accelerator={accelerator.get('resourceCount')}x{accelerator.get('resourceType')}"
                if accelerator
                else ""
            )
            + f" image={container['image']}"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hub", help="hub URL (default: HUB_URL or your `hub login`)")
    parser.add_argument("--hardware", default="cpu", help="train-xgboost's variant: cpu or gpu")
    parser.add_argument("--trainer", choices=["xgboost", "sklearn"], default="xgboost")
    parser.add_argument("--dataset", default="iris", help="a data set scikit-learn ships")
    parser.add_argument("--output", default="train_and_evaluate.yaml", help="compiled YAML")
    parser.add_argument("--local", action="store_true", help="run it here with kfp.local")
    parser.add_argument("--pipeline-root", help="where kfp.local writes artifacts")
    args = parser.parse_args()
    if args.hub:
        os.environ["HUB_URL"] = args.hub
    if args.local and args.hardware != "cpu":
        parser.error(f"the {args.hardware} variant needs its accelerator; run --local with cpu")

    pipeline = build_pipeline(args.hardware, args.trainer)
    compiler.Compiler().compile(pipeline, args.output)
    import yaml

    # With a platform config (the accelerator's node selector) kfp writes a second document.
    compiled = next(yaml.safe_load_all(Path(args.output).read_text()))
    print(f"compiled {args.output} ({args.trainer}, hardware={args.hardware}):")
    print("\n".join(describe_hardware(compiled)))
    if not args.local:
        return 0

    from kfp import local

    root = args.pipeline_root or tempfile.mkdtemp(prefix="kfp-local-")
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=root)
    started = time.perf_counter()
    run = pipeline(dataset=args.dataset)
    elapsed = time.perf_counter() - started
    metrics = dict(run.outputs["metrics"].metadata)
    report = run.outputs["report"].path
    print(f"\nran locally in {elapsed:.1f} s; artifacts under {root}")
    print("metrics:", json.dumps(metrics, indent=2, sort_keys=True))
    print("report:", report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
