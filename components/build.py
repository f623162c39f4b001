"""Recompile every built-in component's ``component.yaml`` from its ``component.py``.

Each package folder under ``components/`` holds one lightweight Python component: a
``@dsl.component`` function in ``component.py``. Its ``component.yaml`` is what the hub serves
and what ``load_component`` gives pipelines, so it must always be the compiler's output for the
current source; ``tests/components/test_packages.py`` fails when one is stale.

Usage::

    python components/build.py            # rewrite every stale component.yaml
    python components/build.py train-xgboost split-data
    python components/build.py --check    # exit 1, naming them, if any is stale
"""

import argparse
import importlib.util
import sys
import tempfile
from pathlib import Path

from kfp import compiler
from kfp.dsl.base_component import BaseComponent

COMPONENTS_DIR = Path(__file__).resolve().parent
SOURCE = "component.py"
SPEC = "component.yaml"


def package_folders(root: Path = COMPONENTS_DIR) -> list[Path]:
    """Every package folder (one with a ``hub.yaml``) directly under ``root``, sorted by name."""
    return sorted(p for p in root.iterdir() if p.is_dir() and (p / "hub.yaml").is_file())


def load_component(folder: Path) -> BaseComponent:
    """Import ``folder/component.py`` and return the one kfp component it defines.

    Raises:
        ValueError: the module defines no component, or more than one.
    """
    path = folder / SOURCE
    module_name = "_hub_component_" + folder.name.replace("-", "_")
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ValueError(f"{path} cannot be imported")
    module = importlib.util.module_from_spec(spec)
    # No __pycache__ inside package folders: they are packed and published as they are.
    writes_bytecode = sys.dont_write_bytecode
    sys.dont_write_bytecode = True
    try:
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = writes_bytecode
    found = [value for value in vars(module).values() if isinstance(value, BaseComponent)]
    if len(found) != 1:
        raise ValueError(f"{path} must define exactly one kfp component, found {len(found)}")
    return found[0]


def compile_component(folder: Path) -> str:
    """The ``component.yaml`` text that kfp's compiler makes from ``folder/component.py``."""
    component = load_component(folder)
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / SPEC
        compiler.Compiler().compile(component, str(target))
        return target.read_text(encoding="utf-8")


def is_stale(folder: Path) -> bool:
    """Whether ``folder/component.yaml`` differs from a fresh compile (or is missing)."""
    spec = folder / SPEC
    return not spec.is_file() or spec.read_text(encoding="utf-8") != compile_component(folder)


def build(folder: Path) -> bool:
    """Rewrite ``folder/component.yaml`` if it is stale.

    Returns:
        True when the file was (re)written.
    """
    text = compile_component(folder)
    spec = folder / SPEC
    if spec.is_file() and spec.read_text(encoding="utf-8") == text:
        return False
    spec.write_text(text, encoding="utf-8")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="package folders to build (default: all)")
    parser.add_argument("--check", action="store_true", help="only report stale specs")
    args = parser.parse_args(argv)
    folders = package_folders()
    if args.names:
        known = {f.name: f for f in folders}
        unknown = sorted(set(args.names) - set(known))
        if unknown:
            parser.error(f"no package folder named {', '.join(unknown)}")
        folders = [known[n] for n in args.names]
    stale = []
    for folder in folders:
        if args.check:
            if is_stale(folder):
                stale.append(folder.name)
        elif build(folder):
            print(f"compiled {folder.name}/{SPEC}")
    if stale:
        print(f"stale {SPEC}: {', '.join(stale)} (run: python components/build.py)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
