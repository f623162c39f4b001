"""split-data under kfp.local: exact sizes, stratification, reproducibility."""

from pathlib import Path
from typing import NamedTuple

import pandas as pd
import pytest
from kfp import dsl
from sklearn.datasets import load_iris

from tests.components.conftest import load

split_data = load("split-data")


def _iris_csv(path: Path) -> Path:
    frame = load_iris(as_frame=True).frame
    frame.insert(0, "row_id", range(len(frame)))
    frame.to_csv(path, index=False)
    return path


class ThreeWaySplit(NamedTuple):
    train: dsl.Dataset
    test: dsl.Dataset
    validation: dsl.Dataset
    train_rows: int
    test_rows: int
    validation_rows: int


class ThreeSplits(NamedTuple):
    a: dsl.Dataset
    b: dsl.Dataset
    c: dsl.Dataset
    val: dsl.Dataset


@pytest.mark.usefixtures("kfp_local")
def test_stratified_three_way_split(tmp_path: Path) -> None:
    source = _iris_csv(tmp_path / "iris.csv")

    @dsl.pipeline
    def split_iris(uri: str) -> ThreeWaySplit:
        data = dsl.importer(
            artifact_uri=uri, artifact_class=dsl.Dataset, metadata={"target_column": "target"}
        )
        split = split_data(
            dataset=data.output,
            test_fraction=0.2,
            validation_fraction=0.1,
            seed=7,
            stratify_column="target",
        )
        return ThreeWaySplit(
            train=split.outputs["train_data"],
            test=split.outputs["test_data"],
            validation=split.outputs["validation_data"],
            train_rows=split.outputs["train_rows"],
            test_rows=split.outputs["test_rows"],
            validation_rows=split.outputs["validation_rows"],
        )

    run = split_iris(uri=str(source))

    # ceil(150 * 0.2) = 30 test, ceil(150 * 0.1) = 15 validation, the rest for training.
    assert (run.outputs["train_rows"], run.outputs["test_rows"]) == (105, 30)
    assert run.outputs["validation_rows"] == 15
    parts = {role: pd.read_csv(run.outputs[role].path) for role in ("train", "test", "validation")}
    assert {role: len(frame) for role, frame in parts.items()} == {
        "train": 105,
        "test": 30,
        "validation": 15,
    }
    # Stratified: each split has the iris classes in their 1:1:1 proportion.
    assert parts["test"]["target"].value_counts().to_dict() == {0: 10, 1: 10, 2: 10}
    assert parts["validation"]["target"].value_counts().to_dict() == {0: 5, 1: 5, 2: 5}
    assert parts["train"]["target"].value_counts().to_dict() == {0: 35, 1: 35, 2: 35}
    # A partition: disjoint, and together every row exactly once.
    ids = pd.concat([frame["row_id"] for frame in parts.values()])
    assert sorted(ids) == list(range(150))
    assert run.outputs["test"].metadata["split"] == "test"
    assert run.outputs["test"].metadata["target_column"] == "target"


@pytest.mark.usefixtures("kfp_local")
def test_sizes_round_up_and_seed_is_reproducible(tmp_path: Path) -> None:
    source = tmp_path / "small.csv"
    pd.DataFrame({"x": range(10), "target": [0, 1] * 5}).to_csv(source, index=False)

    @dsl.pipeline
    def split_twice(uri: str) -> ThreeSplits:
        data = dsl.importer(artifact_uri=uri, artifact_class=dsl.Dataset)
        first = split_data(dataset=data.output, test_fraction=0.25, seed=3)
        again = split_data(dataset=data.output, test_fraction=0.25, seed=3)
        other = split_data(dataset=data.output, test_fraction=0.25, seed=4)
        return ThreeSplits(
            a=first.outputs["test_data"],
            b=again.outputs["test_data"],
            c=other.outputs["test_data"],
            val=first.outputs["validation_data"],
        )

    run = split_twice(uri=str(source))

    first, again, other = (pd.read_csv(run.outputs[k].path)["x"].tolist() for k in "abc")
    assert len(first) == 3  # ceil(10 * 0.25)
    assert first == again
    assert first != other
    validation = pd.read_csv(run.outputs["val"].path)
    assert list(validation.columns) == ["x", "target"]
    assert len(validation) == 0
