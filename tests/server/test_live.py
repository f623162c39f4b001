"""Against a live `hub serve`: plain kfp loads a published spec by URL and compiles it."""

# No "from __future__ import annotations": kfp reads the pipeline's real annotations.

from pathlib import Path

import httpx
import yaml

from hub_server.archive import pack
from tests.conftest import ADMIN_TOKEN, LiveHub
from tests.factories import make_package


def test_kfp_loads_component_yaml_from_the_hub_and_compiles_a_pipeline(
    live_hub: LiveHub, tmp_path: Path
) -> None:
    from kfp import compiler, components, dsl

    data = pack(make_package(tmp_path, name="train", version="1.4.2"))
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    published = httpx.post(
        f"{live_hub.url}/api/v1/components/library/train/versions",
        files={"archive": ("train.tar.gz", data)},
        headers=headers,
    )
    assert published.status_code == 201, published.text
    resolved = httpx.get(
        f"{live_hub.url}/api/v1/components/library/train/resolve", params={"spec": "^1.4"}
    ).json()

    train = components.load_component_from_url(live_hub.url + resolved["urls"]["component_yaml"])

    @dsl.pipeline(name="from-the-hub")
    def pipeline(epochs: int = 3) -> None:
        data_task = dsl.importer(artifact_uri="gs://bucket/data.csv", artifact_class=dsl.Dataset)
        train(data=data_task.output, epochs=epochs)

    out = tmp_path / "pipeline.yaml"
    compiler.Compiler().compile(pipeline, str(out))
    compiled = yaml.safe_load(out.read_text())
    assert "comp-train" in compiled["components"]
    executor = compiled["deploymentSpec"]["executors"]["exec-train"]["container"]
    assert executor["image"] == "python:3.11-slim"
