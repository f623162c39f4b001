"""load-dataset: a data set scikit-learn ships, or a CSV file, as a KFP ``Dataset``.

Compile with ``python components/build.py load-dataset``; the function body is what runs.
"""

from typing import NamedTuple

from kfp import dsl

PACKAGES = ["numpy==2.4.6", "pandas==3.1.1", "scikit-learn==1.9.1"]


@dsl.component(base_image="python:3.11-slim", packages_to_install=PACKAGES)
def load_dataset(
    dataset: dsl.Output[dsl.Dataset],
    name: str = "iris",
    csv_uri: str = "",
    target_column: str = "target",
) -> NamedTuple("LoadDatasetOutputs", [("num_rows", int), ("num_columns", int), ("task", str)]):
    """Loads a data set bundled with scikit-learn, or a CSV file, as a CSV Dataset.

    Args:
        dataset: The data as CSV with a header row; the target is the target_column column.
        name: Bundled data set: iris, wine, breast_cancer, digits or diabetes (no download).
        csv_uri: CSV to read instead of a bundled set: a path, file:// URI or http(s) URL.
        target_column: Name of the target (label) column; a CSV must already have it.

    Returns:
        num_rows: Rows written (examples).
        num_columns: Columns written, the target column included.
        task: "classification" or "regression", as the target suggests.
    """
    import re

    import pandas as pd
    from pandas.api import types as ptypes
    from sklearn import datasets

    bundled = {
        "iris": (datasets.load_iris, "classification"),
        "wine": (datasets.load_wine, "classification"),
        "breast_cancer": (datasets.load_breast_cancer, "classification"),
        "digits": (datasets.load_digits, "classification"),
        "diabetes": (datasets.load_diabetes, "regression"),
    }
    if not target_column:
        raise ValueError("target_column must not be empty")

    if csv_uri:
        frame = pd.read_csv(csv_uri)
        source = csv_uri
        if target_column not in frame.columns:
            raise ValueError(
                f"the CSV {csv_uri!r} has no column {target_column!r} "
                f"(columns: {', '.join(map(str, frame.columns))})"
            )
        target = frame[target_column]
        # A heuristic: text or few distinct whole numbers look like class labels.
        is_labels = not ptypes.is_numeric_dtype(target) or (
            ptypes.is_integer_dtype(target) and target.nunique() <= 20
        )
        task = "classification" if is_labels else "regression"
    else:
        key = name.strip().lower().replace("-", "_")
        if key not in bundled:
            raise ValueError(f"unknown data set {name!r}; choose one of: {', '.join(bundled)}")
        loader, task = bundled[key]
        bunch = loader(as_frame=True)
        features = bunch.data.rename(
            columns=lambda col: re.sub(r"[^0-9a-zA-Z]+", "_", str(col)).strip("_").lower()
        )
        if target_column in features.columns:
            raise ValueError(f"target_column {target_column!r} is also a feature name")
        frame = features.assign(**{target_column: bunch.target.to_numpy()})
        source = f"sklearn.datasets.load_{key}"

    frame.to_csv(dataset.path, index=False)
    num_rows, num_columns = (int(n) for n in frame.shape)
    dataset.metadata.update(
        {
            "source": source,
            "format": "csv",
            "target_column": target_column,
            "task": task,
            "num_rows": num_rows,
            "num_columns": num_columns,
        }
    )
    # A plain tuple, in the order of the NamedTuple in the signature.
    return num_rows, num_columns, task
