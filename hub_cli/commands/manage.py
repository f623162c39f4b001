"""``hub fork`` and ``hub yank``: changing what the hub holds, besides publishing."""

from __future__ import annotations

from typing import Annotated

import typer

from hub_cli.commands._context import JsonOption, RefArgument, open_client
from hub_cli.commands._output import print_json, say
from hub_cli.reference import NAME_PATTERN, NAMESPACE_PATTERN, Reference, SpecKind

app = typer.Typer()


def _destination(dest: str) -> tuple[str, str | None]:
    import re

    namespace, _, name = dest.partition("/")
    if not re.match(NAMESPACE_PATTERN, namespace) or (name and not re.match(NAME_PATTERN, name)):
        raise typer.BadParameter(
            f"{dest!r} is not NAMESPACE or NAMESPACE/NAME", param_hint="'DEST'"
        )
    return namespace, name or None


@app.command()
def fork(
    src: Annotated[
        str, typer.Argument(metavar="SRC", help="NAMESPACE/NAME, or NAMESPACE/NAME@VERSION.")
    ],
    dest: Annotated[
        str,
        typer.Argument(metavar="DEST", help="NAMESPACE, or NAMESPACE/NAME to rename the fork."),
    ],
    json_output: JsonOption = False,
) -> None:
    """Copy a component (every version, or one) into another namespace."""
    parsed = Reference.parse(src)
    if parsed.kind not in (SpecKind.LATEST, SpecKind.EXACT):
        raise typer.BadParameter(
            "fork every version (NAMESPACE/NAME) or one exact version (@1.2.3)",
            param_hint="'SRC'",
        )
    namespace, name = _destination(dest)
    with open_client() as hub:
        forked = hub.fork(parsed, namespace, name)
    if json_output:
        print_json(forked.to_dict())
        return
    count = forked.versions_count
    parent = f"; parent {forked.parent.ref}" if forked.parent else ""
    say(f"Forked {parsed} -> {forked.id} ({count} version{'s' if count != 1 else ''}{parent})")


@app.command()
def yank(
    ref: RefArgument,
    reason: Annotated[
        str | None, typer.Option(help="Why (shown to everyone who looks at the version).")
    ] = None,
    undo: Annotated[bool, typer.Option("--undo", help="Un-yank the version.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Yank a version (ranges skip it; it still downloads by exact version), or --undo it."""
    parsed = Reference.parse(ref)
    if parsed.kind != SpecKind.EXACT:
        raise typer.BadParameter("name one exact version: NAMESPACE/NAME@1.2.3", param_hint="REF")
    if undo and reason:
        raise typer.BadParameter("give either --reason (to yank) or --undo, not both")
    if not undo and not (reason and reason.strip()):
        raise typer.BadParameter("say why with --reason TEXT (or un-yank with --undo)")
    with open_client() as hub:
        if undo:
            version = hub.unyank(parsed, parsed.spec)
        else:
            version = hub.yank(parsed, parsed.spec, (reason or "").strip())
    if json_output:
        print_json(version.to_dict())
        return
    if undo:
        say(f"Un-yanked {version.ref}: ranges select it again.")
    else:
        say(f"Yanked {version.ref}: ranges skip it; `@{version.version}` still downloads it.")
