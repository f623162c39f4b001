"""Fixtures for the built-in components: run them for real with ``kfp.local``.

Components run under kfp's SubprocessRunner in this interpreter (``use_venv=False``), so no
Docker and no downloads: the pip step of each component only finds its pinned packages already
installed. That holds only while the pins equal what the venv has; ``_pins_match_the_venv``
checks it first, so a stale pin fails loudly instead of pip-installing into the venv.
"""

import importlib.metadata
import importlib.util
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd
import pytest
from kfp import components, local
from sklearn import datasets
from sklearn.model_selection import train_test_split

ROOT = Path(__file__).resolve().parents[2]
COMPONENTS_DIR = ROOT / "components"
PACKAGE_NAMES = sorted(p.name for p in COMPONENTS_DIR.iterdir() if (p / "hub.yaml").is_file())
_PIN_RE = re.compile(r"'([A-Za-z0-9_.\-]+)==([^']+)'")


def load_build_module() -> ModuleType:
    """``components/build.py`` as a module (``components/`` is not a Python package)."""
    spec = importlib.util.spec_from_file_location(
        "_hub_components_build", COMPONENTS_DIR / "build.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load(name: str) -> Any:
    """The component as users get it: its compiled ``component.yaml`` loaded by kfp."""
    return components.load_component_from_file(str(COMPONENTS_DIR / name / "component.yaml"))


def pins(name: str) -> dict[str, str]:
    """``{distribution: version}`` for every ``pkg==version`` a component's spec installs."""
    text = (COMPONENTS_DIR / name / "component.yaml").read_text()
    return dict(_PIN_RE.findall(text))


def check_pins_match_the_venv() -> None:
    """Fail unless the venv has exactly what every built-in component pins (anything that runs
    them under kfp.local with ``use_venv=False`` calls this first)."""
    for name in PACKAGE_NAMES:
        for dist, wanted in pins(name).items():
            try:
                have = importlib.metadata.version(dist)
            except importlib.metadata.PackageNotFoundError:
                have = "(not installed)"
            if have != wanted:
                pytest.fail(
                    f"{name} pins {dist}=={wanted} but the venv has {have}: running it would "
                    "pip-install into the venv. `make install` installs under constraints.txt; "
                    "to move a pin, change it there and in component.py, and rebuild."
                )


@pytest.fixture(scope="session")
def _pins_match_the_venv() -> None:
    check_pins_match_the_venv()


@pytest.fixture
def kfp_local(tmp_path: Path, _pins_match_the_venv: None) -> Path:
    """Point ``kfp.local`` at a fresh pipeline root; returns that root."""
    root = tmp_path / "kfp-root"
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(root))
    return root


def write_split(
    folder: Path,
    name: str,
    *,
    test_fraction: float = 0.25,
    labels: list[str] | None = None,
) -> tuple[Path, Path, pd.DataFrame]:
    """Write a bundled scikit-learn data set as ``train.csv`` and ``test.csv`` in ``folder``.

    Prepared in-process (no kfp run) so a test spends its kfp runs on the component it tests.

    Args:
        folder: where the two files go.
        name: ``iris``, ``breast_cancer``, ``diabetes``...
        test_fraction: held-out share (stratified for classification).
        labels: names to replace the integer classes with, e.g. the iris species.

    Returns:
        The train and test paths, and the test frame.
    """
    bunch = getattr(datasets, f"load_{name}")(as_frame=True)
    frame = bunch.data.rename(columns=lambda c: re.sub(r"[^0-9a-zA-Z]+", "_", c).strip("_"))
    target = bunch.target.to_numpy()
    if labels is not None:
        target = [labels[i] for i in target]
    frame["target"] = target
    stratify = frame["target"] if name != "diabetes" else None
    train, test = train_test_split(
        frame, test_size=test_fraction, random_state=0, stratify=stratify
    )
    folder.mkdir(parents=True, exist_ok=True)
    train.to_csv(folder / "train.csv", index=False)
    test.to_csv(folder / "test.csv", index=False)
    return folder / "train.csv", folder / "test.csv", test.reset_index(drop=True)
