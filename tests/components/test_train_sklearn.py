"""train-sklearn under kfp.local: every algorithm trains a usable, described model."""

from pathlib import Path
from typing import NamedTuple

import joblib
import numpy as np
import pandas as pd
import pytest
import sklearn
from kfp import dsl
from sklearn.ensemble import RandomForestRegressor
from sklearn.metrics import accuracy_score, r2_score

from tests.components.conftest import load, write_split

train_sklearn = load("train-sklearn")
ALGORITHMS = ("random_forest", "logistic_regression", "gradient_boosting")


class ThreeModels(NamedTuple):
    random_forest: dsl.Model
    logistic_regression: dsl.Model
    gradient_boosting: dsl.Model
    forest_score: float


@pytest.mark.usefixtures("kfp_local")
def test_every_algorithm_learns_iris(tmp_path: Path) -> None:
    train_csv, _, test = write_split(tmp_path, "iris")

    @dsl.pipeline
    def train_all(uri: str) -> ThreeModels:
        data = dsl.importer(artifact_uri=uri, artifact_class=dsl.Dataset)
        forest = train_sklearn(train_data=data.output, algorithm="random_forest", n_estimators=25)
        logistic = train_sklearn(train_data=data.output, algorithm="logistic_regression", c=2.0)
        boosting = train_sklearn(
            train_data=data.output, algorithm="gradient_boosting", n_estimators=20, max_depth=2
        )
        return ThreeModels(
            random_forest=forest.outputs["model"],
            logistic_regression=logistic.outputs["model"],
            gradient_boosting=boosting.outputs["model"],
            forest_score=forest.outputs["train_score"],
        )

    run = train_all(uri=str(train_csv))

    assert run.outputs["forest_score"] > 0.95
    features, truth = test.drop(columns=["target"]), test["target"]
    for algorithm in ALGORITHMS:
        model = run.outputs[algorithm]
        estimator = joblib.load(model.path)
        accuracy = accuracy_score(truth, estimator.predict(features))
        assert accuracy >= 0.9, (algorithm, accuracy)
        meta = model.metadata
        assert meta["framework"] == "sklearn"
        assert meta["format"] == "joblib"
        assert meta["algorithm"] == algorithm
        assert meta["task"] == "classification"
        assert meta["classes"] == ["0", "1", "2"]
        assert meta["feature_names"] == list(features.columns)
        assert meta["target_column"] == "target"
        assert meta["train_rows"] == 112
        assert meta["library_versions"]["scikit-learn"] == sklearn.__version__
    forest_meta = run.outputs["random_forest"].metadata
    assert forest_meta["params"]["n_estimators"] == 25
    assert forest_meta["params"]["max_depth"] is None  # 0 means "the algorithm's default"
    assert run.outputs["logistic_regression"].metadata["params"]["C"] == 2.0
    assert run.outputs["gradient_boosting"].metadata["params"]["max_depth"] == 2
    assert len(joblib.load(run.outputs["random_forest"].path).estimators_) == 25


@pytest.mark.usefixtures("kfp_local")
def test_regression_forest_on_diabetes(tmp_path: Path) -> None:
    train_csv, _, test = write_split(tmp_path, "diabetes")

    @dsl.pipeline
    def train_regressor(uri: str) -> dsl.Model:
        data = dsl.importer(artifact_uri=uri, artifact_class=dsl.Dataset)
        return train_sklearn(
            train_data=data.output,
            task="regression",
            n_estimators=40,
            extra_params='{"min_samples_leaf": 3}',
        ).outputs["model"]

    model = train_regressor(uri=str(train_csv)).output

    estimator = joblib.load(model.path)
    assert type(estimator).__name__ == "RandomForestRegressor"
    assert estimator.min_samples_leaf == 3
    features = test.drop(columns=["target"])
    predicted = estimator.predict(features)
    assert r2_score(test["target"], predicted) > 0.2  # the mean predictor scores 0
    # The inputs reached the estimator: the same forest fitted here predicts the same.
    train = pd.read_csv(train_csv)
    reference = RandomForestRegressor(n_estimators=40, min_samples_leaf=3, random_state=42)
    reference.fit(train.drop(columns=["target"]), train["target"])
    assert np.allclose(predicted, reference.predict(features))
    assert model.metadata["task"] == "regression"
    assert "classes" not in model.metadata


@pytest.mark.usefixtures("kfp_local")
def test_logistic_regression_refuses_regression(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "tiny.csv"
    pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0], "target": [0.5, 1.5, 2.5, 3.5]}).to_csv(
        source, index=False
    )

    @dsl.pipeline
    def wrong(uri: str) -> dsl.Model:
        data = dsl.importer(artifact_uri=uri, artifact_class=dsl.Dataset)
        return train_sklearn(
            train_data=data.output, algorithm="logistic_regression", task="regression"
        ).outputs["model"]

    with pytest.raises(RuntimeError):
        wrong(uri=str(source))
    assert "logistic_regression is a classifier" in capsys.readouterr().out
