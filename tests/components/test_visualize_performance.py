"""visualize-performance under kfp.local: a self-contained HTML page of real PNG plots."""

import base64
import re
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import pytest
from kfp import dsl

from tests.components.conftest import load

visualize_performance = load("visualize-performance")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _images(page: str) -> list[bytes]:
    return [base64.b64decode(data) for data in re.findall(r"data:image/png;base64,([^\"]+)", page)]


class TwoReports(NamedTuple):
    binary: dsl.HTML
    regression: dsl.HTML


@pytest.mark.usefixtures("kfp_local")
def test_binary_and_regression_reports(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 2, size=200)
    score = np.clip(truth * 0.6 + rng.normal(0.2, 0.25, size=200), 0, 1)
    classified = tmp_path / "binary.csv"
    pd.DataFrame(
        {
            "y_true": np.where(truth == 1, "spam", "ham"),
            "y_pred": np.where(score >= 0.5, "spam", "ham"),
            "proba_ham": 1 - score,
            "proba_spam": score,
        }
    ).to_csv(classified, index=False)
    actual = rng.normal(100, 20, size=120)
    regressed = tmp_path / "regression.csv"
    pd.DataFrame({"y_true": actual, "y_pred": actual + rng.normal(0, 5, size=120)}).to_csv(
        regressed, index=False
    )

    @dsl.pipeline
    def reports(binary_uri: str, regression_uri: str) -> TwoReports:
        binary = dsl.importer(
            artifact_uri=binary_uri, artifact_class=dsl.Dataset,
            metadata={"task": "classification"},
        )  # fmt: skip
        regression = dsl.importer(
            artifact_uri=regression_uri, artifact_class=dsl.Dataset,
            metadata={"task": "regression"},
        )  # fmt: skip
        first = visualize_performance(predictions=binary.output, title="Spam <filter> & co")
        second = visualize_performance(predictions=regression.output)
        return TwoReports(binary=first.outputs["report"], regression=second.outputs["report"])

    run = reports(binary_uri=str(classified), regression_uri=str(regressed))

    report = run.outputs["binary"]
    page = Path(report.path).read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert "<h1>Spam &lt;filter&gt; &amp; co</h1>" in page  # the title is escaped
    images = _images(page)
    assert len(images) == 3
    assert all(image.startswith(PNG_SIGNATURE) and len(image) > 5000 for image in images)
    assert report.metadata["figures"][0].startswith("Confusion matrix (200 rows")
    assert report.metadata["figures"][1:] == ["ROC curve", "Precision-recall curve"]
    expected = float(np.mean((score >= 0.5) == (truth == 1)))
    assert report.metadata["accuracy"] == pytest.approx(expected)
    assert "class spam" not in page  # legends are inside the images, not the page
    # Nothing external, nothing active.
    assert 'src="http' not in page
    assert "<script" not in page

    report = run.outputs["regression"]
    page = Path(report.path).read_text()
    assert len(_images(page)) == 2
    assert report.metadata["task"] == "regression"
    assert 3.5 < report.metadata["rmse"] < 6.5
    assert report.metadata["r2"] > 0.9
