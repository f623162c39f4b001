"""split-data: train/test (and optional validation) split of a CSV ``Dataset``.

Compile with ``python components/build.py split-data``; the function body is what runs.
"""

from typing import NamedTuple

from kfp import dsl

PACKAGES = ["numpy==2.4.6", "pandas==3.1.1", "scikit-learn==1.9.1"]


@dsl.component(base_image="python:3.11-slim", packages_to_install=PACKAGES)
def split_data(
    dataset: dsl.Input[dsl.Dataset],
    train_data: dsl.Output[dsl.Dataset],
    test_data: dsl.Output[dsl.Dataset],
    validation_data: dsl.Output[dsl.Dataset],
    test_fraction: float = 0.2,
    validation_fraction: float = 0.0,
    seed: int = 42,
    stratify_column: str = "",
    shuffle: bool = True,
) -> NamedTuple(
    "SplitDataOutputs", [("train_rows", int), ("test_rows", int), ("validation_rows", int)]
):
    """Splits a CSV Dataset into train, test and (optionally) validation sets.

    Args:
        dataset: The CSV to split (header row), e.g. load-dataset's output.
        train_data: Training rows, CSV with the same columns.
        test_data: Test rows: ceil(rows * test_fraction) of them.
        validation_data: Validation rows: ceil(rows * validation_fraction); header only if 0.
        test_fraction: Share of the rows held out for testing, in (0, 1).
        validation_fraction: Share of the rows held out for validation, in [0, 1).
        seed: Random seed of the shuffle; the same seed gives the same split.
        stratify_column: Column whose class proportions every split keeps; empty for none.
        shuffle: Shuffle before splitting; false keeps row order (no stratify then).

    Returns:
        train_rows: Rows in train_data.
        test_rows: Rows in test_data.
        validation_rows: Rows in validation_data.
    """
    import math

    import pandas as pd
    from sklearn.model_selection import train_test_split

    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    if not 0.0 <= validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must be in [0, 1), got {validation_fraction}")
    if stratify_column and not shuffle:
        raise ValueError("stratify_column needs shuffle=True")

    frame = pd.read_csv(dataset.path)
    rows = len(frame)
    # Exact, documented sizes: ceil for the held-out sets (as scikit-learn does for test_size),
    # the rest for training.
    test_rows = math.ceil(rows * test_fraction)
    validation_rows = math.ceil(rows * validation_fraction) if validation_fraction > 0 else 0
    train_rows = rows - test_rows - validation_rows
    if train_rows < 1:
        raise ValueError(
            f"{rows} rows leave no training rows after {test_rows} test and "
            f"{validation_rows} validation rows; lower the fractions"
        )
    if stratify_column and stratify_column not in frame.columns:
        raise ValueError(
            f"stratify_column {stratify_column!r} is not a column "
            f"(columns: {', '.join(map(str, frame.columns))})"
        )

    def split(part, held_out):
        labels = part[stratify_column] if stratify_column else None
        return train_test_split(
            part, test_size=held_out, random_state=seed, shuffle=shuffle, stratify=labels
        )

    rest, test = split(frame, test_rows)
    if validation_rows:
        train, validation = split(rest, validation_rows)
    else:
        train, validation = rest, frame.iloc[0:0]

    for artifact, part, role in (
        (train_data, train, "train"),
        (test_data, test, "test"),
        (validation_data, validation, "validation"),
    ):
        part.to_csv(artifact.path, index=False)
        artifact.metadata.update(
            {
                "format": "csv",
                "split": role,
                "num_rows": len(part),
                "seed": seed,
                "stratify_column": stratify_column,
                **{
                    key: dataset.metadata[key]
                    for key in ("target_column", "task")
                    if key in dataset.metadata
                },
            }
        )
    # A plain tuple, in the order of the NamedTuple in the signature.
    return len(train), len(test), len(validation)
