"""load-dataset under kfp.local: bundled scikit-learn data sets and a CSV file."""

from pathlib import Path

import pandas as pd
import pytest

from tests.components.conftest import load

load_dataset = load("load-dataset")


@pytest.mark.usefixtures("kfp_local")
@pytest.mark.parametrize(
    ("name", "rows", "columns", "task"),
    [
        ("iris", 150, 5, "classification"),
        ("breast_cancer", 569, 31, "classification"),
        ("diabetes", 442, 11, "regression"),
    ],
)
def test_bundled_data_set(name: str, rows: int, columns: int, task: str) -> None:
    run = load_dataset(name=name)

    assert run.outputs["num_rows"] == rows
    assert run.outputs["num_columns"] == columns
    assert run.outputs["task"] == task
    dataset = run.outputs["dataset"]
    frame = pd.read_csv(dataset.path)
    assert frame.shape == (rows, columns)
    assert frame.columns[-1] == "target"
    assert dataset.metadata["source"] == f"sklearn.datasets.load_{name}"
    assert dataset.metadata["target_column"] == "target"
    if name == "iris":
        assert list(frame.columns[:2]) == ["sepal_length_cm", "sepal_width_cm"]
        assert frame["target"].value_counts().to_dict() == {0: 50, 1: 50, 2: 50}


@pytest.mark.usefixtures("kfp_local")
def test_csv_from_a_path(tmp_path: Path) -> None:
    source = tmp_path / "weather.csv"
    pd.DataFrame(
        {
            "temperature": [21.5, 13.0, 30.2, 8.1, 17.4],
            "humidity": [40, 85, 20, 90, 60],
            "label": ["dry", "rain", "dry", "rain", "dry"],
        }
    ).to_csv(source, index=False)

    run = load_dataset(csv_uri=source.as_uri(), target_column="label", name="ignored")

    assert (run.outputs["num_rows"], run.outputs["num_columns"]) == (5, 3)
    assert run.outputs["task"] == "classification"
    frame = pd.read_csv(run.outputs["dataset"].path)
    assert frame["label"].tolist() == ["dry", "rain", "dry", "rain", "dry"]


@pytest.mark.usefixtures("kfp_local")
def test_unknown_data_set_fails(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(RuntimeError, match="load-dataset"):
        load_dataset(name="mnist")
    assert "unknown data set 'mnist'" in capsys.readouterr().out
