"""evaluate-model: metrics of a trained model on a CSV ``Dataset``.

Compile with ``python components/build.py evaluate-model``; the function body is what runs.
"""

from typing import NamedTuple

from kfp import dsl

PACKAGES = ["joblib==1.6.0", "numpy==2.4.6", "pandas==3.1.1", "scikit-learn==1.9.1"]


@dsl.component(base_image="python:3.11-slim", packages_to_install=PACKAGES)
def evaluate_model(
    model: dsl.Input[dsl.Model],
    test_data: dsl.Input[dsl.Dataset],
    metrics: dsl.Output[dsl.Metrics],
    classification_metrics: dsl.Output[dsl.ClassificationMetrics],
    predictions: dsl.Output[dsl.Dataset],
    target_column: str = "",
) -> NamedTuple("EvaluateModelOutputs", [("score", float), ("task", str)]):
    """Scores a train-sklearn or train-xgboost model on held-out data.

    Args:
        model: A joblib-saved scikit-learn-API estimator with train-* metadata.
        test_data: Held-out CSV with the model's feature columns and the target column.
        metrics: accuracy, precision, recall, f1, roc_auc, log_loss; or rmse, mae, r2.
        classification_metrics: Confusion matrix and ROC curve (classification only).
        predictions: CSV of y_true, y_pred and, for classifiers, proba_<class> per class.
        target_column: Target column of test_data; empty takes the model's target_column.

    Returns:
        score: Accuracy for classification, R^2 for regression.
        task: classification or regression.
    """
    import subprocess
    import sys

    import joblib
    import numpy as np
    import pandas as pd
    from sklearn import metrics as skm
    from sklearn.base import is_classifier

    meta = dict(model.metadata)
    if meta.get("framework") == "xgboost":
        # The pickle needs the xgboost module; any build predicts on CPU. See train-xgboost
        # for why it is not in packages_to_install.
        try:
            import xgboost  # noqa: F401
        except ImportError:
            subprocess.run(
                [sys.executable, "-m", "pip", "install", "--quiet", "xgboost-cpu==3.2.0"],
                check=True,
            )
    estimator = joblib.load(model.path)

    target = target_column or meta.get("target_column") or "target"
    frame = pd.read_csv(test_data.path)
    if target not in frame.columns:
        raise ValueError(f"the test data has no column {target!r}")
    feature_names = meta.get("feature_names") or [c for c in frame.columns if c != target]
    missing = [name for name in feature_names if name not in frame.columns]
    if missing:
        raise ValueError(f"the test data lacks the model's features {missing}")
    features = frame[list(feature_names)]
    y_true = frame[target]
    task = meta.get("task") or ("classification" if is_classifier(estimator) else "regression")
    rows = len(frame)
    out = {"y_true": y_true.to_numpy()}

    if task == "regression":
        y_pred = np.asarray(estimator.predict(features), dtype=float)
        values = {
            "rmse": float(np.sqrt(skm.mean_squared_error(y_true, y_pred))),
            "mae": float(skm.mean_absolute_error(y_true, y_pred)),
            "r2": float(skm.r2_score(y_true, y_pred)),
        }
        score = values["r2"]
        out["y_pred"] = y_pred
    else:
        # Every label as a string: CSV columns, the confusion matrix and metadata agree so.
        classes = [str(c) for c in (meta.get("classes") or estimator.classes_)]
        raw = np.asarray(estimator.predict(features))
        if meta.get("label_encoded"):
            raw = np.asarray(classes)[raw.astype(int)]
        y_pred = np.asarray([str(v) for v in raw])
        labels = np.asarray([str(v) for v in y_true])
        # Without predict_proba (say, an SVC without probability=True) there is no ROC.
        has_proba = hasattr(estimator, "predict_proba")
        proba = np.asarray(estimator.predict_proba(features), dtype=float) if has_proba else None
        binary = len(classes) == 2
        average = "binary" if binary else "macro"
        # pos_label only means something to binary averaging (and warns otherwise).
        scoring = {"labels": classes, "average": average, "zero_division": 0}
        if binary:
            scoring["pos_label"] = classes[1]
        values = {
            "accuracy": float(skm.accuracy_score(labels, y_pred)),
            "precision": float(skm.precision_score(labels, y_pred, **scoring)),
            "recall": float(skm.recall_score(labels, y_pred, **scoring)),
            "f1": float(skm.f1_score(labels, y_pred, **scoring)),
        }
        onehot = (labels[:, None] == np.asarray(classes)[None, :]).astype(int)
        present = set(labels)
        # ROC AUC is only defined when the data holds positives and negatives of every class
        # it is computed for.
        if proba is None:
            pass
        elif binary and len(present) == 2:
            values["roc_auc"] = float(skm.roc_auc_score(onehot[:, 1], proba[:, 1]))
        elif not binary and present == set(classes):
            values["roc_auc"] = float(
                skm.roc_auc_score(onehot, proba, average="macro", multi_class="ovr")
            )
        if proba is not None and present <= set(classes):
            values["log_loss"] = float(skm.log_loss(onehot, proba))
        score = values["accuracy"]

        matrix = skm.confusion_matrix(labels, y_pred, labels=classes)
        classification_metrics.log_confusion_matrix(classes, matrix.tolist())
        if "roc_auc" in values:
            # Binary: the positive class's curve; multiclass: micro-averaged one-vs-rest.
            truth, scores = (
                (onehot[:, 1], proba[:, 1]) if binary else (onehot.ravel(), proba.ravel())
            )
            fpr, tpr, thresholds = skm.roc_curve(truth, scores)
            # The first threshold is +inf, which JSON (and so artifact metadata) cannot carry.
            thresholds = np.clip(thresholds, 0.0, 1.0)
            classification_metrics.log_roc_curve(
                [float(v) for v in fpr], [float(v) for v in tpr], [float(v) for v in thresholds]
            )
        out["y_true"] = labels
        predictions.metadata["averaging"] = average
        out["y_pred"] = y_pred
        for index, label in enumerate(classes if proba is not None else []):
            out[f"proba_{label}"] = proba[:, index]

    for name, value in values.items():
        metrics.log_metric(name, value)
    pd.DataFrame(out).to_csv(predictions.path, index=False)
    predictions.metadata.update(
        {"format": "csv", "task": task, "num_rows": rows, "metrics": values}
    )
    # A plain tuple, in the order of the NamedTuple in the signature.
    return score, task
