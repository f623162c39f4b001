"""visualize-performance: ROC, precision-recall and confusion-matrix plots as an HTML report.

Compile with ``python components/build.py visualize-performance``; the function body is what
runs.
"""

from kfp import dsl

PACKAGES = ["matplotlib==3.11.2", "numpy==2.4.6", "pandas==3.1.1", "scikit-learn==1.9.1"]


@dsl.component(base_image="python:3.11-slim", packages_to_install=PACKAGES)
def visualize_performance(
    predictions: dsl.Input[dsl.Dataset],
    report: dsl.Output[dsl.HTML],
    title: str = "Model performance",
):
    """Renders a model's performance plots into one self-contained HTML page.

    Args:
        predictions: evaluate-model's predictions: y_true, y_pred and proba_<class> columns.
        report: HTML page with the plots embedded as base64 PNG images (no external files).
        title: Heading of the page.
    """
    import base64
    import html
    import io

    import matplotlib

    matplotlib.use("Agg")  # no display in a container
    import matplotlib.pyplot as plt
    import numpy as np
    import pandas as pd
    from sklearn import metrics as skm

    frame = pd.read_csv(predictions.path)
    for column in ("y_true", "y_pred"):
        if column not in frame.columns:
            raise ValueError(f"the predictions have no column {column!r}: use evaluate-model's")
    proba_columns = [c for c in frame.columns if c.startswith("proba_")]
    task = predictions.metadata.get("task") or ("classification" if proba_columns else "regression")
    figures = []  # (caption, base64 PNG)

    def add(fig, caption):
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
        plt.close(fig)
        figures.append((caption, base64.b64encode(buffer.getvalue()).decode("ascii")))

    summary = {"rows": len(frame)}
    if task == "classification":
        classes = [c[len("proba_") :] for c in proba_columns]
        y_true = frame["y_true"].astype(str).to_numpy()
        y_pred = frame["y_pred"].astype(str).to_numpy()
        labels = classes or sorted(set(y_true) | set(y_pred))
        summary["accuracy"] = float(np.mean(y_true == y_pred))

        matrix = skm.confusion_matrix(y_true, y_pred, labels=labels)
        size = max(4.0, 0.6 * len(labels) + 2)
        fig, ax = plt.subplots(figsize=(size, size))
        skm.ConfusionMatrixDisplay(matrix, display_labels=labels).plot(
            ax=ax, cmap="Blues", colorbar=False, values_format="d"
        )
        ax.set_title("Confusion matrix")
        add(fig, f"Confusion matrix ({len(frame)} rows; rows: true, columns: predicted)")

        if proba_columns:
            proba = frame[proba_columns].to_numpy(dtype=float)
            # Binary: the positive (second) class only; multiclass: one curve per class.
            shown = [1] if len(classes) == 2 else range(len(classes))
            curves = [
                (classes[i], (y_true == classes[i]).astype(int), proba[:, i])
                for i in shown
                if 0 < (y_true == classes[i]).sum() < len(y_true)
            ]
            if curves:
                fig, ax = plt.subplots(figsize=(5.5, 5))
                for label, truth, score in curves:
                    fpr, tpr, _ = skm.roc_curve(truth, score)
                    auc = skm.auc(fpr, tpr)
                    ax.plot(fpr, tpr, label=f"class {label} (AUC {auc:.3f})")
                ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
                ax.set(xlabel="False positive rate", ylabel="True positive rate", title="ROC")
                ax.legend(loc="lower right")
                add(fig, "ROC curve" + ("s, one-vs-rest" if len(curves) > 1 else ""))

                fig, ax = plt.subplots(figsize=(5.5, 5))
                for label, truth, score in curves:
                    precision, recall, _ = skm.precision_recall_curve(truth, score)
                    ap = skm.average_precision_score(truth, score)
                    ax.plot(recall, precision, label=f"class {label} (AP {ap:.3f})")
                ax.set(
                    xlabel="Recall",
                    ylabel="Precision",
                    title="Precision-recall",
                    xlim=(0, 1.01),
                    ylim=(0, 1.01),
                )
                ax.legend(loc="lower left")
                add(fig, "Precision-recall curve" + ("s, one-vs-rest" if len(curves) > 1 else ""))
    else:
        y_true = frame["y_true"].to_numpy(dtype=float)
        y_pred = frame["y_pred"].to_numpy(dtype=float)
        summary["rmse"] = float(np.sqrt(np.mean((y_true - y_pred) ** 2)))
        summary["r2"] = float(skm.r2_score(y_true, y_pred))

        fig, ax = plt.subplots(figsize=(5.5, 5))
        ax.scatter(y_true, y_pred, s=12, alpha=0.6)
        low, high = float(min(y_true.min(), y_pred.min())), float(max(y_true.max(), y_pred.max()))
        ax.plot([low, high], [low, high], linestyle="--", color="grey")
        ax.set(xlabel="Actual", ylabel="Predicted", title="Predicted vs actual")
        add(fig, "Predicted against actual values; the dashed line is a perfect model")

        fig, ax = plt.subplots(figsize=(5.5, 4))
        ax.hist(y_pred - y_true, bins=30)
        ax.set(xlabel="Residual (predicted - actual)", ylabel="Rows", title="Residuals")
        add(fig, "Distribution of residuals")

    rows = "".join(
        f"<tr><th>{html.escape(key)}</th><td>{value:.4g}</td></tr>"
        if isinstance(value, float)
        else f"<tr><th>{html.escape(key)}</th><td>{value}</td></tr>"
        for key, value in summary.items()
    )
    body = "".join(
        f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        for caption, data in figures
    )
    page = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>"
        "body{font-family:system-ui,sans-serif;margin:2rem;color:#222}"
        "table{border-collapse:collapse;margin-bottom:1.5rem}"
        "th,td{border:1px solid #ccc;padding:.3rem .8rem;text-align:left}"
        "figure{display:inline-block;margin:0 1.5rem 1.5rem 0;vertical-align:top}"
        "img{max-width:100%}figcaption{font-size:.9rem;color:#555}"
        f"</style></head><body><h1>{html.escape(title)}</h1>"
        f"<p>Task: {html.escape(task)}</p><table>{rows}</table>{body}</body></html>\n"
    )
    with open(report.path, "w", encoding="utf-8") as handle:
        handle.write(page)
    report.metadata.update(
        {"task": task, "figures": [caption for caption, _ in figures], **summary}
    )
