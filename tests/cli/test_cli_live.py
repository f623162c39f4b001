"""Against a live `hub serve`: the full round, kfp.local, the hub stopped, concurrent pullers,
and the real `hub` process (one-line errors, completion, start-up imports)."""

# No "from __future__ import annotations": kfp reads the pipelines' real annotations.

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from hub_cli import load_component
from hub_cli.cache import Cache
from hub_server.archive import digest
from tests.cli.conftest import Cli, assert_one_error_line, live_publish
from tests.conftest import ADMIN_TOKEN, ROOT, LiveHub, free_port, start_live_hub

pytestmark = pytest.mark.live

GPU_VARIANT = {
    "image": "registry.example.org/ml/train-model:0.1.0-cuda12",
    "resources": {"cpu": "4", "memory": "16Gi", "limits": {"memory": "20Gi"}},
    "accelerator": {"type": "nvidia.com/gpu", "count": 2, "model": "nvidia-tesla-t4"},
    "arguments": {"times": 3},
}


def create_user(hub: LiveHub, name: str) -> str:
    response = httpx.post(
        f"{hub.url}/api/v1/users",
        json={"name": name},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert response.status_code == 201, response.text
    token: str = response.json()["token"]
    return token


def compile_pipeline(pipeline: Any, path: Path) -> list[dict[str, Any]]:
    from kfp import compiler

    compiler.Compiler().compile(pipeline, str(path))
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def ok(result: Any) -> Any:
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result


def test_full_round_init_to_compiled_pipeline(
    live_hub: LiveHub, own_http_cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from kfp import dsl

    cli = own_http_cli
    monkeypatch.setenv("HUB_URL", live_hub.url)
    token = create_user(live_hub, "alice")

    ok(cli("login", "--token", token))
    ok(cli("init", "train-model", "--category", "training"))
    # The author adds a GPU variant to the scaffolded manifest.
    manifest_path = Path("train-model", "hub.yaml")
    manifest = yaml.safe_load(manifest_path.read_text())
    manifest["hardware"]["variants"]["gpu"] = GPU_VARIANT
    manifest_path.write_text(yaml.safe_dump(manifest, sort_keys=False))
    ok(cli("validate", "train-model"))
    published = ok(cli("publish", "train-model", "--json"))
    found = json.loads(ok(cli("search", "train", "--hardware", "gpu", "--json")).stdout)
    forked = ok(cli("fork", "alice/train-model", "alice-team"))
    pulled = ok(cli("pull", "alice-team/train-model@^0.1", "--to", str(tmp_path / "copy")))

    train = load_component("alice-team/train-model@^0.1", hardware="gpu")

    @dsl.pipeline(name="round-trip")
    def pipeline(message: str = "hello") -> None:
        train(message=message)

    documents = compile_pipeline(pipeline, tmp_path / "pipeline.yaml")
    assert json.loads(published.stdout)["namespace"] == "alice", "the login user's namespace"
    assert [item["namespace"] + "/" + item["name"] for item in found["items"]] == [
        "alice/train-model"
    ]
    assert "-> alice-team/train-model" in forked.stdout
    assert "Pulled alice-team/train-model@0.1.0 (downloaded)" in pulled.stdout
    assert (tmp_path / "copy" / "component.py").read_text() == Path(
        "train-model", "component.py"
    ).read_text()
    container = documents[0]["deploymentSpec"]["executors"]["exec-train-model"]["container"]
    assert container["image"] == GPU_VARIANT["image"]
    assert container["resources"]["resourceCpuRequest"] == "4"
    assert container["resources"]["resourceMemoryRequest"] == "16Gi"
    assert container["resources"]["resourceMemoryLimit"] == "20Gi"
    assert container["resources"]["accelerator"] == {
        "count": "2",
        "resourceCount": "2",
        "resourceType": "nvidia.com/gpu",
        "type": "nvidia.com/gpu",
    }
    executors = documents[1]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert executors["exec-train-model"]["nodeSelector"]["labels"] == {
        "cloud.google.com/gke-accelerator": "nvidia-tesla-t4"
    }
    inputs = documents[0]["components"]["comp-train-model"]["inputDefinitions"]["parameters"]
    assert inputs["times"]["defaultValue"] == 3


SHOUT = '''\
from kfp import dsl


@dsl.component(base_image="python:3.11-slim")
def shout(text: str) -> str:
    """Upper-case a text."""
    return text.upper() + "!"
'''


@pytest.fixture
def local_runner(tmp_path: Path) -> Iterator[None]:
    from kfp import local
    from kfp.local import config

    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "runs"))
    yield
    config.LocalExecutionConfig.instance = None


def test_a_pipeline_of_hub_components_runs_with_kfp_local(
    live_hub: LiveHub,
    own_http_cli: Cli,
    monkeypatch: pytest.MonkeyPatch,
    local_runner: None,
) -> None:
    from kfp import dsl

    cli = own_http_cli
    monkeypatch.setenv("HUB_URL", live_hub.url)
    monkeypatch.setenv("HUB_TOKEN", create_user(live_hub, "alice"))
    ok(cli("init", "repeat"))
    ok(cli("init", "shout"))
    Path("shout", "component.py").write_text(SHOUT)
    ok(cli("build", "shout"))
    ok(cli("publish", "repeat"))
    ok(cli("publish", "shout"))
    ok(cli("pull", "alice/repeat"))
    ok(cli("pull", "alice/shout"))

    repeat = load_component("alice/repeat@^0.1")
    shout = load_component("alice/shout@0.1.0")

    @dsl.pipeline
    def pipeline(message: str = "hi") -> str:
        twice = repeat(message=message, times=2)
        return shout(text=twice.output).output

    # The variant's resources are on the tasks; the local runner says it ignores them.
    with pytest.warns(UserWarning, match=r"\['cpu_request', 'memory_request'\] have no effect"):
        run = pipeline(message="hub")

    assert run.output == "HUB HUB!"


def test_the_cache_answers_with_the_hub_stopped(
    tmp_path: Path,
    own_http_cli: Cli,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from kfp import dsl

    cli = own_http_cli
    hub = start_live_hub(tmp_path / "data", env={"HUB_ADMIN_TOKEN": ADMIN_TOKEN})
    try:
        for version in ("1.0.0", "1.1.0"):
            live_publish(hub, tmp_path, "alice", version=version)
        monkeypatch.setenv("HUB_URL", hub.url)
        ok(cli("lock", "alice/train@~1.0", "--pull"))
        ok(cli("pull", "alice/train@1.1.0", "--no-lock"))
    finally:
        hub.stop()

    with caplog.at_level(logging.INFO, logger="hub_cli"):
        train = load_component("alice/train@~1.0", hardware="gpu")

    @dsl.pipeline(name="offline")
    def pipeline() -> None:
        data = dsl.importer(artifact_uri="gs://bucket/data.csv", artifact_class=dsl.Dataset)
        train(data=data.output)

    compile_pipeline(pipeline, tmp_path / "offline.yaml")
    assert train.hub_ref == "alice/train@1.0.0", "the locked version, not the newest"
    assert "pinned by" in caplog.text
    assert "the hub is not contacted" in caplog.text
    ranged = ok(cli("pull", "alice/train@^1", "--no-lock"))
    assert "offline" in ranged.stdout
    assert "alice/train@1.1.0" in ranged.stdout
    warning = [line for line in ranged.stderr.splitlines() if line.startswith("warning:")]
    assert len(warning) == 1
    assert "cannot reach the hub" in warning[0]
    assert_one_error_line(cli("pull", "alice/train@^2", "--no-lock"), 1, "cannot reach the hub")
    assert_one_error_line(cli("search"), 1, "cannot reach the hub", "is it running?")


def test_two_processes_pull_the_same_version_at_once(live_hub: LiveHub, tmp_path: Path) -> None:
    published = live_publish(live_hub, tmp_path, "alice", version="1.0.0")
    cache = tmp_path / "shared-cache"
    env = {**os.environ, "HUB_URL": live_hub.url, "HUB_CACHE_DIR": str(cache)}
    command = [sys.executable, "-m", "hub_cli.main", "pull", "alice/train@^1.0", "--json"]

    processes = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT)
        for _ in range(3)
    ]
    outputs = [process.communicate(timeout=120) for process in processes]

    for process, (_, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err.decode()
    results = [json.loads(out) for out, _ in outputs]
    assert {r["digest"] for r in results} == {published["digest"]}
    blobs = list((cache / "blobs" / "sha256").iterdir())
    assert len(blobs) == 1
    assert digest(blobs[0].read_bytes()) == published["digest"]
    assert not [p for p in cache.rglob("*") if ".tmp" in p.name], "no temporary file is left"
    snapshot = Path(results[0]["snapshot"])
    assert sorted(p.name for p in snapshot.iterdir()) == ["README.md", "component.yaml", "hub.yaml"]
    time.sleep(0.2)  # the access log line of the last request
    log_lines = live_hub.log.read_text().splitlines()
    archive_requests = [line for line in log_lines if '/archive"' in line]
    assert len(archive_requests) == 1, "the file lock let one process download it"
    assert Cache(cache).read_blob(published["digest"]) is not None


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub_cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


@pytest.fixture
def process_env(home: Path) -> dict[str, str]:
    return {**os.environ, "HUB_URL": f"http://127.0.0.1:{free_port()}", "HUB_MAX_RETRIES": "0"}


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (("pull", "alice/train@^1"), 1, "cannot reach the hub"),
        (("search", "xgboost"), 1, "is it running?"),
        (("info", "not-a-reference"), 2, "is not a component reference"),
        (("validate", "no-such-folder"), 1, "is not a valid package"),
    ],
)
def test_the_real_command_fails_with_one_line(
    process_env: dict[str, str], args: tuple[str, ...], code: int, needle: str
) -> None:
    result = _run(*args, env=process_env)

    assert result.returncode == code, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    assert needle in errors[0]
    assert "Traceback" not in result.stderr


def test_a_usage_error_exits_with_2(process_env: dict[str, str]) -> None:
    result = _run("serve", "--port", "eighty", env=process_env)

    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("error: Invalid value for '--port'")
    assert line.endswith("(see `hub serve --help`)")


def test_shell_completion_installs(process_env: dict[str, str], home: Path) -> None:
    env = {**process_env, "SHELL": "/bin/bash"}

    installed = _run("--install-completion", env=env)
    completions = subprocess.run(
        [sys.executable, "-m", "hub_cli.main"],
        capture_output=True,
        text=True,
        env={**env, "_HUB_COMPLETE": "complete_bash", "COMP_WORDS": "hub pu", "COMP_CWORD": "1"},
        cwd=ROOT,
        timeout=60,
        check=False,
    )

    assert installed.returncode == 0, installed.stderr
    assert (home / ".bash_completions" / "hub.sh").is_file()
    assert "hub.sh" in (home / ".bashrc").read_text()
    assert set(completions.stdout.split()) == {"publish", "pull"}


def test_start_up_imports_no_heavy_module() -> None:
    code = (
        "import sys; from hub_cli.main import app; "
        "heavy = ('kfp', 'docker', 'boto3', 'hub_server.app', 'uvicorn', 'sqlalchemy', 'httpx'); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy or m in heavy))"
    )

    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )

    assert result.stdout.strip() == "[]"
