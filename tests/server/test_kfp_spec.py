"""hub_server.kfp_spec: the spec kfp loads from the hub's parse is the one kfp loads from text,
and the worker's lean kfp import reads specs the same way."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import OrderedDict
from pathlib import Path
from typing import Any

import pytest
from kfp import components

from hub_server import kfp_spec
from hub_server.archive import ArchiveLimits, load_yaml
from hub_server.errors import InvalidPackage
from hub_server.kfp_spec import load_spec, read_interface
from tests.factories import V1_SPEC, v2_spec

ROOT = Path(__file__).resolve().parents[2]
BUILTIN_SPECS = sorted((ROOT / "components").glob("*/component.yaml"))


def _parsed(text: str) -> Any:
    return load_yaml(text.encode(), filename="component.yaml")


def _specs() -> list[tuple[str, str]]:
    return [
        ("v1", V1_SPEC),
        ("v2", v2_spec()),
        ("v1, no description", V1_SPEC.replace("description: Trains a model on a CSV file.\n", "")),
        *((path.parent.name, path.read_text()) for path in BUILTIN_SPECS),
    ]


def test_load_spec_gives_what_kfp_loads_from_text() -> None:
    for label, text in _specs():
        expected = components.load_component_from_text(text).component_spec
        assert load_spec(text, _parsed(text)) == expected, label


@pytest.mark.parametrize(
    "text",
    [
        "name: x\nimplementation: {}\n",
        "name: x\ninputs: [{name: a, type: Integer, default: nope}]\n"
        "implementation: {container: {image: i, command: [{inputValue: b}]}}\n",
        "pipelineInfo: {name: x}\nroot: {}\n",
        "deploymentSpec: {}\n",
        "inputs: 3\nimplementation: {container: {image: i}}\n",
    ],
)
def test_kfp_refuses_the_same_specs_either_way(text: str) -> None:
    with pytest.raises(Exception) as from_text:  # noqa: PT011 - whatever kfp raises
        components.load_component_from_text(text)
    with pytest.raises(InvalidPackage) as ours:
        read_interface(text, _parsed(text), path="component.yaml")
    assert ours.value.code == "invalid_component_spec"
    assert ours.value.detail["kfp_error"].startswith(type(from_text.value).__name__)


def test_the_lean_kfp_import_reads_specs_alike() -> None:
    """With _KFP_RUNTIME=true (what `hub serve` gives its workers) reading a spec imports
    neither kfp's client nor its compiler, and gives the same interface."""
    code = (
        "import json, sys\n"
        "from hub_server.archive import load_yaml\n"
        "from hub_server.kfp_spec import read_interface\n"
        "text = sys.stdin.read()\n"
        "found = read_interface(text, load_yaml(text.encode(), filename='c'), path='c')\n"
        "heavy = [m for m in ('kfp.client', 'kfp.compiler', 'kubernetes') if m in sys.modules]\n"
        "print(json.dumps({'interface': found, 'heavy': heavy}))\n"
    )
    for _label, text in _specs()[:3]:
        result = subprocess.run(
            [sys.executable, "-c", code],
            input=text,
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
            env={**_environ(), "_KFP_RUNTIME": "true"},
        )
        answer = json.loads(result.stdout)
        assert answer["heavy"] == []
        assert answer["interface"] == read_interface(text, _parsed(text), path="c")


def _environ() -> dict[str, str]:
    return dict(os.environ)


def test_a_spec_file_read_once_is_not_parsed_again(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = kfp_spec.load_spec

    def counted(text: str, document: dict[str, Any]) -> Any:
        calls.append(text)
        return real(text, document)

    monkeypatch.setattr(kfp_spec, "load_spec", counted)
    monkeypatch.setattr(kfp_spec, "_interfaces", OrderedDict())
    text = V1_SPEC.replace("Trains a model", "Trains a cached model")
    first = kfp_spec.read_spec_file(text.encode(), text, path="c", limits=ArchiveLimits())
    first["inputs"].clear()  # the caller's copy: changing it changes nothing remembered
    again = kfp_spec.read_spec_file(text.encode(), text, path="c", limits=ArchiveLimits())

    assert len(calls) == 1
    assert again == read_interface(text, _parsed(text), path="c")
    assert again["inputs"]


def test_a_refused_spec_file_is_refused_every_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kfp_spec, "_interfaces", OrderedDict())
    text = "name: x\nimplementation: {}\n"
    for _ in range(2):
        with pytest.raises(InvalidPackage) as refused:
            kfp_spec.read_spec_file(text.encode(), text, path="c", limits=ArchiveLimits())
        assert refused.value.code == "invalid_component_spec"
    assert not kfp_spec._interfaces
