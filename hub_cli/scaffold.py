"""``hub init NAME``: a new package that ``hub validate`` accepts and ``hub publish`` publishes."""

from __future__ import annotations

import getpass
import importlib.metadata
import keyword
import re
import shutil
from pathlib import Path

from hub_cli.errors import HubError, InvalidPackageError
from hub_cli.reference import NAME_PATTERN, NAMESPACE_PATTERN

__all__ = ["CATEGORIES", "function_name", "scaffold"]

CATEGORIES = (
    "data-ingestion",
    "data-splitting",
    "preprocessing",
    "training",
    "evaluation",
    "visualization",
    "deployment",
    "other",
)

_HUB_YAML = """\
# hub.yaml: what Component Hub knows about this component.
# Schema: schemas/hub-manifest.v1.json. Check it with `hub validate`.
name: {name}
{namespace_line}
version: 0.1.0
description: {description}
category: {category}
tags: [example]
license: Apache-2.0
authors:
  - {author}
component: component.yaml   # compiled from component.py by `hub build`
hardware:
  default: cpu
  variants:
    cpu:
      resources: {{cpu: "1", memory: 1Gi}}
    # A GPU variant: `load_component(..., hardware="gpu")` applies it to each task.
    # gpu:
    #   image: registry.example.org/{name}:0.1.0-cuda12
    #   resources: {{cpu: "4", memory: 16Gi}}
    #   accelerator: {{type: nvidia.com/gpu, count: 1, model: nvidia-tesla-t4}}
    #   arguments: {{times: 2}}
"""

_COMPONENT_PY = '''\
"""{name}: a lightweight Python component.

Edit the function, then run `hub build` to compile it into component.yaml.
"""

from kfp import dsl


@dsl.component(base_image="python:3.11-slim")
def {function}(message: str = "hello", times: int = 1) -> str:
    """Repeat a message.

    Args:
        message: The text to repeat.
        times: How many times to repeat it.

    Returns:
        The message, repeated.
    """
    return " ".join([message] * times)
'''

_README = """\
# {name}

{description}

## Use it

```python
from kfp import dsl
from hub_cli import load_component

{function} = load_component("{ref}@^0.1")


@dsl.pipeline
def pipeline(message: str = "hello"):
    {function}(message=message, times=2)
```

## Inputs

| name | type | default | |
|---|---|---|---|
| message | str | `hello` | the text to repeat |
| times | int | `1` | how many times |

## Outputs

The repeated message (`str`).
"""

_DOCKERFILE = """\
# The image this component runs in, if it needs more than its base image.
# Build and push it with `hub build --image REGISTRY/NAME:TAG --push`, then name it as
# base_image in component.py (or as a variant's `image` in hub.yaml).
FROM python:3.11-slim
RUN pip install --no-cache-dir "kfp=={kfp_version}"
"""

_SMOKE_YAML = """\
# Smoke-test inputs: tests/test_component.py runs the component with them under kfp.local.
arguments:
  message: hello
  times: 2
expect: hello hello
"""

_SMOKE_TEST = '''\
"""Run the compiled component locally with kfp.local: `pytest tests/`."""

from pathlib import Path

import yaml
from kfp import components, local

HERE = Path(__file__).resolve().parent


def test_component_runs_locally(tmp_path):
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path))
    component = components.load_component_from_file(str(HERE.parent / "component.yaml"))
    smoke = yaml.safe_load((HERE / "smoke.yaml").read_text())

    task = component(**smoke["arguments"])

    assert task.output == smoke["expect"]
'''


def function_name(name: str) -> str:
    """The Python function name for a component name (``train-xgboost`` -> ``train_xgboost``).

    Args:
        name: A component name.

    Returns:
        A valid, non-keyword Python identifier.
    """
    candidate = name.replace("-", "_")
    if not candidate.isidentifier():
        candidate = f"component_{candidate}"
    if keyword.iskeyword(candidate):
        candidate += "_component"
    return candidate


def _default_author() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no user name in the environment or passwd
        user = "author"
    return f"{user} <{user}@example.org>"


def _yaml_scalar(text: str) -> str:
    # Quoted as a JSON string, which is a valid YAML double-quoted scalar.
    import json

    return json.dumps(text, ensure_ascii=False)


def scaffold(
    name: str,
    *,
    directory: str | Path | None = None,
    namespace: str | None = None,
    description: str | None = None,
    category: str = "other",
    author: str | None = None,
) -> Path:
    """Create a new package folder with everything ``hub publish`` needs.

    Writes ``hub.yaml``, ``component.py`` (a lightweight Python component), ``component.yaml``
    (compiled from it with kfp's compiler), ``README.md``, ``Dockerfile`` and ``tests/`` (a
    kfp.local smoke test with its inputs).

    Args:
        name: The component name (``[a-z0-9][a-z0-9-]*``, at most 64 characters).
        directory: The folder to create. Default: ``./NAME``.
        namespace: Written into ``hub.yaml`` when given.
        description: One line for the catalogue.
        category: One of :data:`CATEGORIES`.
        author: ``Name <email>``. Default: the login name.

    Returns:
        The package folder.

    Raises:
        InvalidPackageError: a bad name, namespace or category.
        HubError: the folder exists and is not empty.
        BuildError: kfp could not compile the component.
    """
    if not re.match(NAME_PATTERN, name):
        raise InvalidPackageError(
            f"{name!r} is not a valid component name: lowercase letters, digits and '-', "
            "starting with a letter or digit, at most 64 characters",
            code="invalid_name",
        )
    if namespace is not None and not re.match(NAMESPACE_PATTERN, namespace):
        raise InvalidPackageError(f"{namespace!r} is not a valid namespace", code="invalid_name")
    if category not in CATEGORIES:
        raise InvalidPackageError(
            f"{category!r} is not a category; choose one of: {', '.join(CATEGORIES)}",
            code="invalid_category",
        )
    folder = Path(directory) if directory is not None else Path.cwd() / name
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise HubError(f"{folder} exists and is not empty; choose another --dir", code="exists")
    description = description or f"{name}: repeats a message (a starting point)."
    function = function_name(name)
    ref = f"{namespace or 'your-namespace'}/{name}"
    namespace_line = (
        f"namespace: {namespace}"
        if namespace
        else "# namespace: your-namespace   # default: `hub publish --namespace`, or your user"
    )
    files = {
        "hub.yaml": _HUB_YAML.format(
            name=name,
            namespace_line=namespace_line,
            description=_yaml_scalar(description),
            category=category,
            author=_yaml_scalar(author or _default_author()),
        ),
        "component.py": _COMPONENT_PY.format(name=name, function=function),
        "README.md": _README.format(name=name, description=description, function=function, ref=ref),
        "Dockerfile": _DOCKERFILE.format(kfp_version=importlib.metadata.version("kfp")),
        "tests/smoke.yaml": _SMOKE_YAML,
        "tests/test_component.py": _SMOKE_TEST,
    }
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    try:
        for rel, text in files.items():
            path = folder / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        from hub_cli.package import compile_component

        compile_component(folder, function=function)
    except BaseException:
        # Leave nothing half-made behind: the folder was new, or empty before.
        if created:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            for child in folder.iterdir():
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        raise
    return folder
