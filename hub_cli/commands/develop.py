"""``hub init``, ``hub validate``, ``hub build``, ``hub publish``: making and shipping a package."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hub_cli.commands._context import JsonOption, PackageDir, open_client
from hub_cli.commands._output import human_size, note, print_json, say, stderr_console, warn
from hub_cli.errors import InvalidPackageError
from hub_cli.scaffold import CATEGORIES

app = typer.Typer()


@app.command()
def init(
    name: Annotated[str, typer.Argument(help="The component name, e.g. train-xgboost.")],
    directory: Annotated[
        Path | None,
        typer.Option("--dir", help="Where to create the package.", show_default="./NAME"),
    ] = None,
    namespace: Annotated[
        str | None, typer.Option(help="Write this namespace into hub.yaml.")
    ] = None,
    description: Annotated[str | None, typer.Option(help="One line for the catalogue.")] = None,
    category: Annotated[str, typer.Option(help=f"One of: {', '.join(CATEGORIES)}.")] = "other",
    author: Annotated[
        str | None, typer.Option(help="Name <email>.", show_default="your login name")
    ] = None,
) -> None:
    """Create a new component package that `hub validate` accepts and `hub publish` publishes."""
    import re

    from hub_cli.reference import NAME_PATTERN, NAMESPACE_PATTERN
    from hub_cli.scaffold import scaffold

    if not re.match(NAME_PATTERN, name):
        raise typer.BadParameter(
            "use lowercase letters, digits and '-' (at most 64, not starting with '-')",
            param_hint="'NAME'",
        )
    if namespace is not None and not re.match(NAMESPACE_PATTERN, namespace):
        raise typer.BadParameter("not a valid namespace", param_hint="'--namespace'")
    if category not in CATEGORIES:
        raise typer.BadParameter(
            f"choose one of: {', '.join(CATEGORIES)}", param_hint="'--category'"
        )

    folder = scaffold(
        name,
        directory=directory,
        namespace=namespace,
        description=description,
        category=category,
        author=author,
    )
    say(f"Created {folder}: hub.yaml, component.py, component.yaml, README.md, Dockerfile, tests/")
    say(f"Next: edit component.py, then `hub build {folder}` and `hub publish {folder}`.")


def _check(path: Path) -> None:
    """Validate for publish: print every problem, then fail with one line."""
    from hub_cli.package import check_package

    report = check_package(path)
    for warning in report.warnings:
        warn(warning)
    if not report.ok:
        for problem in report.problems:
            note(f"  {problem}")
        count = len(report.problems)
        raise InvalidPackageError(
            f"{path} is not a valid package: {count} problem{'s' if count > 1 else ''} "
            "(listed above)",
            problems=[p.to_dict() for p in report.problems],
        )


@app.command()
def validate(path: PackageDir = Path("."), json_output: JsonOption = False) -> None:
    """Check a package folder as the hub would, and list every problem at once."""
    from hub_cli.package import check_package

    report = check_package(path)
    if json_output:
        print_json(report.to_dict())
    else:
        for warning in report.warnings:
            warn(warning)
        if report.ok:
            say(f"{path} is a valid package: {report.name}@{report.version}")
            if report.digest and report.size is not None:
                say(f"digest {report.digest} ({human_size(report.size)})")
        else:
            for problem in report.problems:
                say(f"  {problem}")
    if not report.ok:
        count = len(report.problems)
        raise InvalidPackageError(
            f"{path} is not a valid package: {count} problem{'s' if count > 1 else ''}",
            problems=[p.to_dict() for p in report.problems],
        )


@app.command()
def build(
    path: PackageDir = Path("."),
    function: Annotated[
        str | None,
        typer.Option(help="The component to compile when component.py defines several."),
    ] = None,
    image: Annotated[
        str | None,
        typer.Option(metavar="TAG", help="Also build the Dockerfile into this image (docker)."),
    ] = None,
    push: Annotated[bool, typer.Option(help="Push the image after building it.")] = False,
) -> None:
    """Compile component.py into component.yaml with kfp's compiler; optionally build the image."""
    if push and not image:
        raise typer.BadParameter("--push needs --image TAG")
    from hub_cli.package import SOURCE, build_image, compile_component

    if (path / SOURCE).is_file():
        spec = compile_component(path, function=function)
        say(f"Compiled {path / SOURCE} -> {spec}")
    elif not image:
        raise InvalidPackageError(f"{path} has no {SOURCE} to compile")
    if image:
        image_id = build_image(path, image, push=push)
        say(f"Built {image} ({image_id})" + (" and pushed it" if push else ""))


@app.command()
def publish(
    path: PackageDir = Path("."),
    namespace: Annotated[
        str | None,
        typer.Option(help="Where to publish.", show_default="hub.yaml's namespace, or your user"),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Validate, pack (deterministically) and upload a package as a new version."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

    from hub_cli.package import pack_folder, read_manifest_fields

    _check(path)
    fields = read_manifest_fields(path)
    data = pack_folder(path)
    with open_client() as hub:
        target = namespace or fields.get("namespace") or hub.whoami().name
        with Progress(
            TextColumn("uploading"),
            BarColumn(),
            DownloadColumn(),
            transient=True,
            console=stderr_console(),
        ) as progress:
            task = progress.add_task("upload", total=len(data))
            version = hub.publish_archive(
                str(target),
                str(fields["name"]),
                data,
                progress=lambda sent, total: progress.update(task, completed=sent),
            )
    if json_output:
        print_json(version.to_dict())
        return
    say(f"Published {version.ref}")
    say(f"digest {version.digest} ({human_size(version.size)})")
    say(f"{hub.url}/components/{version.namespace}/{version.name}/{version.version}")
