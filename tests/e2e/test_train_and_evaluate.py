"""End to end: publish the built-ins with `hub publish` into a live hub, then run the example
pipeline from the hub with kfp.local, and compile its GPU variant."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from tests.components.conftest import check_pins_match_the_venv
from tests.conftest import ADMIN_TOKEN, ROOT, LiveHub

EXAMPLE = ROOT / "docs" / "examples" / "train_and_evaluate.py"
HUB = str(Path(sys.executable).with_name("hub"))


def _env(live_hub: LiveHub, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "HUB_URL": live_hub.url,
        "HUB_TOKEN": ADMIN_TOKEN,
        "HUB_CACHE_DIR": str(tmp_path / "cache"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }


def _run(args: list[str], env: dict[str, str], cwd: Path) -> str:
    result = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_builtins_published_with_hub_publish_run_as_a_pipeline(
    live_hub: LiveHub, tmp_path: Path
) -> None:
    check_pins_match_the_venv()  # the run below would otherwise pip-install into the venv
    env = _env(live_hub, tmp_path)
    packages = sorted(p for p in (ROOT / "components").iterdir() if (p / "hub.yaml").is_file())
    assert len(packages) == 6
    for package in packages:
        _run([HUB, "publish", str(package), "--namespace", "library"], env, tmp_path)
    listed = json.loads(
        _run([HUB, "search", "", "--namespace", "library", "--json"], env, tmp_path)
    )
    assert len(listed["items"] if isinstance(listed, dict) else listed) == 6

    out = _run(
        [sys.executable, str(EXAMPLE), "--local", "--pipeline-root", str(tmp_path / "root")],
        env,
        tmp_path,
    )

    metrics = json.loads(out.rsplit("\nmetrics: ", 1)[1].split("\nreport:", 1)[0])
    assert metrics["accuracy"] > 0.85, metrics
    assert 0.85 < metrics["roc_auc"] <= 1.0
    report = Path(out.split("\nreport:", 1)[1].strip().splitlines()[0])
    assert "data:image/png;base64," in report.read_text()

    gpu_yaml = tmp_path / "gpu.yaml"
    _run([sys.executable, str(EXAMPLE), "--hardware", "gpu", "--output", str(gpu_yaml)], env,
         tmp_path)  # fmt: skip
    pipeline, platform = yaml.safe_load_all(gpu_yaml.read_text())
    train = pipeline["deploymentSpec"]["executors"]["exec-train-xgboost"]["container"]
    assert train["resources"]["accelerator"]["resourceType"] == "nvidia.com/gpu"
    assert train["resources"]["accelerator"]["resourceCount"] == "1"
    assert train["resources"]["resourceMemoryRequest"] == "16Gi"
    assert train["image"].endswith("-cuda12")
    selector = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"][
        "exec-train-xgboost"
    ]["nodeSelector"]["labels"]
    assert selector == {"cloud.google.com/gke-accelerator": "nvidia-tesla-t4"}
    cpu_only = pipeline["deploymentSpec"]["executors"]["exec-split-data"]["container"]
    assert "accelerator" not in cpu_only.get("resources", {})
