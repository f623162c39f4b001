"""train-xgboost: an XGBoost classifier or regressor, on CPU or on an NVIDIA GPU.

Compile with ``python components/build.py train-xgboost``; the function body is what runs.

XGBoost is deliberately not in ``packages_to_install``: the ``cpu`` variant wants the CPU-only
wheel (``xgboost-cpu``, without hundreds of MB of CUDA libraries) and the ``gpu`` variant's image
carries the CUDA-enabled ``xgboost``. Both install the same ``xgboost`` module, so pip installing
one over the other would break the GPU build. The function imports whichever the image has and
installs the one its ``device`` needs only when there is none.
"""

from typing import NamedTuple

from kfp import dsl

PACKAGES = ["joblib==1.6.0", "numpy==2.4.6", "pandas==3.1.1", "scikit-learn==1.9.1"]


@dsl.component(base_image="python:3.11-slim", packages_to_install=PACKAGES)
def train_xgboost(
    train_data: dsl.Input[dsl.Dataset],
    model: dsl.Output[dsl.Model],
    task: str = "classification",
    target_column: str = "target",
    n_estimators: int = 100,
    max_depth: int = 6,
    learning_rate: float = 0.3,
    subsample: float = 1.0,
    colsample_bytree: float = 1.0,
    min_child_weight: float = 1.0,
    reg_lambda: float = 1.0,
    random_state: int = 42,
    device: str = "cpu",
    n_jobs: int = -1,
    extra_params: str = "{}",
) -> NamedTuple("TrainXgboostOutputs", [("train_score", float)]):
    """Trains an XGBoost model (tree_method=hist) on a CSV Dataset and saves it with joblib.

    Args:
        train_data: Training CSV: numeric feature columns and the target_column.
        model: The fitted XGBClassifier/XGBRegressor, joblib.dump'ed to model.path.
        task: classification or regression.
        target_column: Name of the target column; every other column is a feature.
        n_estimators: Boosting rounds (trees).
        max_depth: Maximum tree depth.
        learning_rate: Shrinkage of each tree (eta).
        subsample: Share of rows sampled for each tree, in (0, 1].
        colsample_bytree: Share of features sampled for each tree, in (0, 1].
        min_child_weight: Minimum sum of instance weight (hessian) in a child.
        reg_lambda: L2 regularization of leaf weights.
        random_state: Seed, for reproducible models.
        device: cpu, or cuda / cuda:<ordinal> for an NVIDIA GPU (the gpu hardware variant).
        n_jobs: CPU threads; -1 uses every CPU the container has.
        extra_params: More XGBoost arguments as a JSON object, e.g. '{"max_bin": 128}'.

    Returns:
        train_score: Accuracy (classification) or R^2 (regression) on the training data.
    """
    import json
    import platform
    import subprocess
    import sys
    import warnings

    wants_gpu = device.startswith(("cuda", "gpu"))
    if not (wants_gpu or device == "cpu"):
        raise ValueError(f"device must be cpu, cuda or cuda:<ordinal>, got {device!r}")
    try:
        import xgboost
    except ImportError:
        wheel = "xgboost==3.2.0" if wants_gpu else "xgboost-cpu==3.2.0"
        command = [sys.executable, "-m", "pip", "install", "--quiet", wheel]
        subprocess.run(command, check=True)  # noqa: S603 - a fixed command, no user input
        import xgboost
    if wants_gpu and not xgboost.build_info().get("USE_CUDA"):
        raise RuntimeError(
            f"device={device!r} needs an XGBoost build with CUDA, but this image has the "
            "CPU-only one; run the gpu hardware variant (its image has CUDA XGBoost)"
        )

    import joblib
    import numpy as np
    import pandas as pd
    import sklearn

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

    params = {
        "n_estimators": n_estimators,
        "max_depth": max_depth,
        "learning_rate": learning_rate,
        "subsample": subsample,
        "colsample_bytree": colsample_bytree,
        "min_child_weight": min_child_weight,
        "reg_lambda": reg_lambda,
        "random_state": random_state,
        "n_jobs": n_jobs,
        "tree_method": "hist",
        "device": device,
    }
    # JSON text, not a dict input: a dict passes through protobuf Struct, where every number
    # becomes a float (min_samples_leaf=3 would arrive as 3.0 and be refused).
    extra = json.loads(extra_params or "{}")
    if not isinstance(extra, dict):
        raise ValueError(f"extra_params must be a JSON object, got {extra_params!r}")
    params.update(extra)
    classify = task == "classification"
    classes = None
    if classify:
        # XGBoost wants labels 0..k-1; the original labels are kept in the metadata (as
        # strings: artifact metadata turns integers into floats on the way through).
        classes, encoded = np.unique(target.to_numpy(), return_inverse=True)
        target = encoded
        estimator = xgboost.XGBClassifier(**params)
    else:
        estimator = xgboost.XGBRegressor(**params)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        estimator.fit(features, target)
    for warning in caught:
        if "Device is changed from GPU to CPU" in str(warning.message):
            raise RuntimeError(
                f"device={device!r} but no GPU is visible to XGBoost; the gpu hardware variant "
                "requests one nvidia.com/gpu"
            )
        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    train_score = float(estimator.score(features, target))

    # Saved for CPU prediction, so evaluation runs anywhere; the booster itself is the same.
    estimator.set_params(device="cpu")
    joblib.dump(estimator, model.path)
    metadata = {
        "framework": "xgboost",
        "format": "joblib",
        "algorithm": "xgboost",
        "task": task,
        "estimator": f"xgboost.{type(estimator).__name__}",
        "params": json.loads(json.dumps(params, default=str)),
        "trained_on_device": device,
        "target_column": target_column,
        "feature_names": [str(col) for col in features.columns],
        "train_rows": len(frame),
        "train_score": train_score,
        "library_versions": {
            "python": platform.python_version(),
            "xgboost": xgboost.__version__,
            "xgboost_cuda": bool(xgboost.build_info().get("USE_CUDA")),
            "scikit-learn": sklearn.__version__,
            "numpy": np.__version__,
            "pandas": pd.__version__,
            "joblib": joblib.__version__,
        },
    }
    if classes is not None:
        # predict() gives positions in this list: evaluate-model maps them back to labels.
        metadata["classes"] = [str(label) for label in classes]
        metadata["label_encoded"] = True
    model.metadata.update(metadata)
    # A plain tuple, in the order of the NamedTuple in the signature.
    return (train_score,)
