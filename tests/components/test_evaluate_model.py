"""evaluate-model under kfp.local: metrics that agree with scikit-learn on real data sets."""

import re
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import pytest
from kfp import dsl
from sklearn import metrics as skm

from tests.components.conftest import load, write_split

load_dataset = load("load-dataset")
split_data = load("split-data")
train_sklearn = load("train-sklearn")
train_xgboost = load("train-xgboost")
evaluate_model = load("evaluate-model")
visualize_performance = load("visualize-performance")


def _matrix(classification_metrics: dsl.ClassificationMetrics) -> tuple[list[str], np.ndarray]:
    matrix = classification_metrics.metadata["confusionMatrix"]
    labels = [spec["displayName"] for spec in matrix["annotationSpecs"]]
    return labels, np.array([row["row"] for row in matrix["rows"]], dtype=int)


class IrisRun(NamedTuple):
    metrics: dsl.Metrics
    classification: dsl.ClassificationMetrics
    predictions: dsl.Dataset
    report: dsl.HTML
    test_rows: int
    score: float


class CancerRun(NamedTuple):
    metrics: dsl.Metrics
    classification: dsl.ClassificationMetrics
    predictions: dsl.Dataset


class DiabetesRun(NamedTuple):
    metrics: dsl.Metrics
    classification: dsl.ClassificationMetrics
    predictions: dsl.Dataset
    score: float
    task: str


@pytest.mark.usefixtures("kfp_local")
def test_iris_pipeline_from_load_to_report() -> None:
    """load-dataset → split-data → train-sklearn → evaluate-model → visualize-performance."""

    @dsl.pipeline
    def iris() -> IrisRun:
        data = load_dataset(name="iris")
        split = split_data(
            dataset=data.outputs["dataset"], test_fraction=0.2, seed=1, stratify_column="target"
        )
        model = train_sklearn(train_data=split.outputs["train_data"], n_estimators=20)
        scores = evaluate_model(model=model.outputs["model"], test_data=split.outputs["test_data"])
        report = visualize_performance(predictions=scores.outputs["predictions"], title="Iris")
        return IrisRun(
            metrics=scores.outputs["metrics"],
            classification=scores.outputs["classification_metrics"],
            predictions=scores.outputs["predictions"],
            report=report.outputs["report"],
            test_rows=split.outputs["test_rows"],
            score=scores.outputs["score"],
        )

    run = iris()

    values = run.outputs["metrics"].metadata
    assert set(values) == {"accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"}
    assert values["accuracy"] >= 0.9
    assert values["roc_auc"] >= 0.95
    assert run.outputs["score"] == values["accuracy"]
    assert run.outputs["test_rows"] == 30
    labels, matrix = _matrix(run.outputs["classification"])
    assert labels == ["0", "1", "2"]
    assert matrix.sum() == 30  # every test row counted once
    assert matrix.sum(axis=1).tolist() == [10, 10, 10]  # stratified split
    assert np.trace(matrix) / 30 == pytest.approx(values["accuracy"])
    predictions = pd.read_csv(run.outputs["predictions"].path)
    assert list(predictions.columns) == ["y_true", "y_pred", "proba_0", "proba_1", "proba_2"]
    assert len(predictions) == 30
    assert np.allclose(predictions[["proba_0", "proba_1", "proba_2"]].sum(axis=1), 1.0)
    page = Path(run.outputs["report"].path).read_text()
    assert "<h1>Iris</h1>" in page
    assert len(re.findall(r'src="data:image/png;base64,', page)) == 3


@pytest.mark.usefixtures("kfp_local")
def test_binary_xgboost_with_text_labels(tmp_path: Path) -> None:
    train_csv, test_csv, test = write_split(
        tmp_path, "breast_cancer", labels=["malignant", "benign"]
    )

    @dsl.pipeline
    def cancer(train_uri: str, test_uri: str) -> CancerRun:
        train = dsl.importer(artifact_uri=train_uri, artifact_class=dsl.Dataset)
        held_out = dsl.importer(artifact_uri=test_uri, artifact_class=dsl.Dataset)
        model = train_xgboost(train_data=train.output, n_estimators=30, max_depth=3)
        scores = evaluate_model(model=model.outputs["model"], test_data=held_out.output)
        return CancerRun(
            metrics=scores.outputs["metrics"],
            classification=scores.outputs["classification_metrics"],
            predictions=scores.outputs["predictions"],
        )

    run = cancer(train_uri=str(train_csv), test_uri=str(test_csv))

    values = run.outputs["metrics"].metadata
    assert values["accuracy"] >= 0.93
    assert values["roc_auc"] >= 0.97
    predictions = pd.read_csv(run.outputs["predictions"].path)
    assert predictions["y_true"].tolist() == test["target"].tolist()
    # The labels were mapped back from XGBoost's 0..k-1; the second in sorted order,
    # "malignant", is the positive class.
    truth, predicted = predictions["y_true"], predictions["y_pred"]
    assert set(predicted) <= {"malignant", "benign"}
    assert values["precision"] == pytest.approx(
        skm.precision_score(truth, predicted, pos_label="malignant")
    )
    assert values["recall"] == pytest.approx(
        skm.recall_score(truth, predicted, pos_label="malignant")
    )
    assert values["f1"] == pytest.approx(skm.f1_score(truth, predicted, pos_label="malignant"))
    assert values["roc_auc"] == pytest.approx(
        skm.roc_auc_score(truth == "malignant", predictions["proba_malignant"])
    )
    labels, matrix = _matrix(run.outputs["classification"])
    assert labels == ["benign", "malignant"]
    assert matrix.sum() == len(test) == 143
    curve = run.outputs["classification"].metadata["confidenceMetrics"]
    fpr = [point["falsePositiveRate"] for point in curve]
    tpr = [point["recall"] for point in curve]
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0.0, 0.0, 1.0, 1.0)
    assert fpr == sorted(fpr)
    assert tpr == sorted(tpr)
    assert all(0.0 <= point["confidenceThreshold"] <= 1.0 for point in curve)


@pytest.mark.usefixtures("kfp_local")
def test_regression_metrics(tmp_path: Path) -> None:
    train_csv, test_csv, test = write_split(tmp_path, "diabetes")

    @dsl.pipeline
    def diabetes(train_uri: str, test_uri: str) -> DiabetesRun:
        train = dsl.importer(artifact_uri=train_uri, artifact_class=dsl.Dataset)
        held_out = dsl.importer(artifact_uri=test_uri, artifact_class=dsl.Dataset)
        model = train_sklearn(
            train_data=train.output, task="regression", algorithm="gradient_boosting",
            n_estimators=50, max_depth=2,
        )  # fmt: skip
        scores = evaluate_model(model=model.outputs["model"], test_data=held_out.output)
        return DiabetesRun(
            metrics=scores.outputs["metrics"],
            classification=scores.outputs["classification_metrics"],
            predictions=scores.outputs["predictions"],
            score=scores.outputs["score"],
            task=scores.outputs["task"],
        )

    run = diabetes(train_uri=str(train_csv), test_uri=str(test_csv))

    values = run.outputs["metrics"].metadata
    assert set(values) == {"rmse", "mae", "r2"}
    assert run.outputs["task"] == "regression"
    assert run.outputs["score"] == values["r2"]
    assert values["r2"] > 0.25
    predictions = pd.read_csv(run.outputs["predictions"].path)
    assert np.allclose(predictions["y_true"], test["target"])
    truth, predicted = predictions["y_true"], predictions["y_pred"]
    assert values["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(truth, predicted)))
    assert values["mae"] == pytest.approx(skm.mean_absolute_error(truth, predicted))
    assert values["r2"] == pytest.approx(skm.r2_score(truth, predicted))
    assert values["rmse"] < test["target"].std()  # better than predicting the mean
    assert "confusionMatrix" not in run.outputs["classification"].metadata
