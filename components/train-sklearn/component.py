"""train-sklearn: a scikit-learn random forest, logistic regression or gradient boosting model.

Compile with ``python components/build.py train-sklearn``; the function body is what runs.
"""

from typing import NamedTuple

from kfp import dsl

PACKAGES = ["joblib==1.6.0", "numpy==2.4.6", "pandas==3.1.1", "scikit-learn==1.9.1"]


@dsl.component(base_image="python:3.11-slim", packages_to_install=PACKAGES)
def train_sklearn(
    train_data: dsl.Input[dsl.Dataset],
    model: dsl.Output[dsl.Model],
    algorithm: str = "random_forest",
    task: str = "classification",
    target_column: str = "target",
    n_estimators: int = 100,
    max_depth: int = 0,
    learning_rate: float = 0.1,
    c: float = 1.0,
    max_iter: int = 1000,
    random_state: int = 42,
    n_jobs: int = -1,
    extra_params: str = "{}",
) -> NamedTuple("TrainSklearnOutputs", [("train_score", float)]):
    """Trains a scikit-learn estimator on a CSV Dataset and saves it with joblib.

    Args:
        train_data: Training CSV: numeric feature columns and the target_column.
        model: The fitted estimator, joblib.dump'ed to model.path; see model.metadata.
        algorithm: random_forest, logistic_regression (classification) or gradient_boosting.
        task: classification or regression.
        target_column: Name of the target column; every other column is a feature.
        n_estimators: Trees (random_forest, gradient_boosting).
        max_depth: Maximum tree depth; 0 keeps the default (unlimited for forests, 3 for GB).
        learning_rate: Shrinkage of each tree (gradient_boosting).
        c: Inverse regularization strength C (logistic_regression).
        max_iter: Solver iterations (logistic_regression).
        random_state: Seed, for reproducible models.
        n_jobs: Parallel jobs (random_forest); -1 uses every CPU the container has.
        extra_params: More estimator arguments as a JSON object, e.g. '{"min_samples_leaf": 2}'.

    Returns:
        train_score: Accuracy (classification) or R^2 (regression) on the training data.
    """
    import json
    import platform

    import joblib
    import numpy
    import pandas as pd
    import sklearn
    from sklearn import ensemble, linear_model, pipeline, preprocessing

    if task not in ("classification", "regression"):
        raise ValueError(f"task must be classification or regression, got {task!r}")
    frame = pd.read_csv(train_data.path)
    if target_column not in frame.columns:
        raise ValueError(f"the training data has no column {target_column!r}")
    features = frame.drop(columns=[target_column])
    non_numeric = [str(col) for col in features.columns if features[col].dtype.kind not in "biuf"]
    if non_numeric:
        raise ValueError(f"features must be numeric; encode these first: {non_numeric}")
    target = frame[target_column]

    depth = max_depth if max_depth > 0 else None
    classify = task == "classification"
    if algorithm == "random_forest":
        cls = ensemble.RandomForestClassifier if classify else ensemble.RandomForestRegressor
        params = {
            "n_estimators": n_estimators,
            "max_depth": depth,
            "random_state": random_state,
            "n_jobs": n_jobs,
        }
    elif algorithm == "gradient_boosting":
        cls = (
            ensemble.GradientBoostingClassifier if classify else ensemble.GradientBoostingRegressor
        )
        params = {
            "n_estimators": n_estimators,
            "learning_rate": learning_rate,
            "max_depth": depth or 3,
            "random_state": random_state,
        }
    elif algorithm == "logistic_regression":
        if not classify:
            raise ValueError("logistic_regression is a classifier; use task=classification")
        cls = linear_model.LogisticRegression
        params = {"C": c, "max_iter": max_iter, "random_state": random_state}
    else:
        raise ValueError(
            f"unknown algorithm {algorithm!r}; choose random_forest, logistic_regression "
            "or gradient_boosting"
        )
    # JSON text, not a dict input: a dict passes through protobuf Struct, where every number
    # becomes a float (min_samples_leaf=3 would arrive as 3.0 and be refused).
    extra = json.loads(extra_params or "{}")
    if not isinstance(extra, dict):
        raise ValueError(f"extra_params must be a JSON object, got {extra_params!r}")
    params.update(extra)
    estimator = cls(**params)
    if algorithm == "logistic_regression":
        # Unscaled features (breast_cancer's span five orders of magnitude) keep the solver
        # from converging; scaling inside the model means callers never have to.
        estimator = pipeline.make_pipeline(preprocessing.StandardScaler(), estimator)
    estimator.fit(features, target)
    train_score = float(estimator.score(features, target))

    joblib.dump(estimator, model.path)
    metadata = {
        "framework": "sklearn",
        "format": "joblib",
        "algorithm": algorithm,
        "task": task,
        "estimator": f"{type(estimator).__module__}.{type(estimator).__name__}",
        # Through JSON so every value is plain (None stays null, numbers stay numbers).
        "params": json.loads(json.dumps(params, default=str)),
        "target_column": target_column,
        "feature_names": [str(col) for col in features.columns],
        "train_rows": len(frame),
        "train_score": train_score,
        "library_versions": {
            "python": platform.python_version(),
            "scikit-learn": sklearn.__version__,
            "numpy": numpy.__version__,
            "pandas": pd.__version__,
            "joblib": joblib.__version__,
        },
    }
    if classify:
        # Strings, because artifact metadata turns integers into floats on the way through.
        metadata["classes"] = [str(label) for label in estimator.classes_]
    model.metadata.update(metadata)
    # A plain tuple, in the order of the NamedTuple in the signature.
    return (train_score,)
