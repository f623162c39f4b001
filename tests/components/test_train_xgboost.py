"""train-xgboost under kfp.local (CPU-only wheel), and its two hardware variants."""

from pathlib import Path
from typing import NamedTuple

import joblib
import pandas as pd
import pytest
import xgboost
import yaml
from kfp import dsl
from sklearn.metrics import accuracy_score, r2_score

from hub_server.manifest import parse_manifest
from tests.components.conftest import COMPONENTS_DIR, load, write_split

train_xgboost = load("train-xgboost")


class TwoModels(NamedTuple):
    classifier: dsl.Model
    regressor: dsl.Model


@pytest.mark.usefixtures("kfp_local")
def test_classifier_and_regressor_on_cpu(tmp_path: Path) -> None:
    cancer_train, _, cancer_test = write_split(tmp_path / "cancer", "breast_cancer")
    diabetes_train, _, diabetes_test = write_split(tmp_path / "diabetes", "diabetes")

    @dsl.pipeline
    def train_both(classification_uri: str, regression_uri: str) -> TwoModels:
        cancer = dsl.importer(artifact_uri=classification_uri, artifact_class=dsl.Dataset)
        diabetes = dsl.importer(artifact_uri=regression_uri, artifact_class=dsl.Dataset)
        classifier = train_xgboost(
            train_data=cancer.output, n_estimators=30, max_depth=3, extra_params='{"max_bin": 64}'
        )
        regressor = train_xgboost(
            train_data=diabetes.output,
            task="regression",
            n_estimators=60,
            max_depth=2,
            learning_rate=0.1,
        )
        return TwoModels(
            classifier=classifier.outputs["model"], regressor=regressor.outputs["model"]
        )

    run = train_both(classification_uri=str(cancer_train), regression_uri=str(diabetes_train))

    classifier = run.outputs["classifier"]
    estimator = joblib.load(classifier.path)
    assert isinstance(estimator, xgboost.XGBClassifier)
    assert estimator.n_estimators == 30
    assert estimator.max_bin == 64
    assert estimator.get_params()["device"] == "cpu"
    features = cancer_test.drop(columns=["target"])
    accuracy = accuracy_score(cancer_test["target"], estimator.predict(features))
    assert accuracy >= 0.93
    meta = classifier.metadata
    assert meta["framework"] == "xgboost"
    assert meta["format"] == "joblib"
    assert meta["task"] == "classification"
    assert meta["params"]["tree_method"] == "hist"
    assert meta["params"]["device"] == "cpu"
    assert meta["trained_on_device"] == "cpu"
    assert meta["classes"] == ["0", "1"]
    assert meta["label_encoded"] is True
    assert meta["library_versions"]["xgboost"] == xgboost.__version__
    assert meta["library_versions"]["xgboost_cuda"] is False
    assert meta["train_rows"] == 426  # 569 - ceil(569 * 0.25)

    regressor = joblib.load(run.outputs["regressor"].path)
    assert isinstance(regressor, xgboost.XGBRegressor)
    predicted = regressor.predict(diabetes_test.drop(columns=["target"]))
    assert r2_score(diabetes_test["target"], predicted) > 0.3


@pytest.mark.usefixtures("kfp_local")
def test_cuda_on_the_cpu_only_wheel_fails_clearly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "tiny.csv"
    pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0], "target": [0, 1, 0, 1]}).to_csv(source, index=False)

    @dsl.pipeline
    def on_gpu(uri: str) -> dsl.Model:
        data = dsl.importer(artifact_uri=uri, artifact_class=dsl.Dataset)
        return train_xgboost(train_data=data.output, device="cuda").outputs["model"]

    with pytest.raises(RuntimeError):
        on_gpu(uri=str(source))
    assert "needs an XGBoost build with CUDA" in capsys.readouterr().out


def test_hardware_variants() -> None:
    folder = COMPONENTS_DIR / "train-xgboost"
    manifest = parse_manifest(yaml.safe_load((folder / "hub.yaml").read_text()))
    hardware = manifest.hardware
    assert hardware.default == "cpu"
    assert set(hardware.variants) == {"cpu", "gpu"}
    cpu, gpu = hardware.variants["cpu"], hardware.variants["gpu"]
    assert cpu.accelerator is None
    assert cpu.arguments == {"device": "cpu"}
    assert gpu.arguments == {"device": "cuda"}
    assert gpu.accelerator is not None
    assert (gpu.accelerator.type, gpu.accelerator.count) == ("nvidia.com/gpu", 1)
    assert gpu.accelerator.model == "nvidia-tesla-t4"
    assert gpu.image is not None
    assert gpu.image.endswith("-cuda12")
    for variant in (cpu, gpu):
        assert variant.resources is not None
        assert variant.resources.limits is not None
        assert variant.resources.cpu
        assert variant.resources.memory
    # The argument the variants set is a real input, defaulting to the cpu variant's value.
    spec = train_xgboost.component_spec
    assert spec.inputs["device"].default == "cpu"
