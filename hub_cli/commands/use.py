"""``hub pull`` and ``hub lock``: bringing components into the cache and pinning them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hub_cli.commands._context import JsonOption, RefArgument, open_client
from hub_cli.commands._output import console, print_json, say, short_digest, table
from hub_cli.constants import LOCKFILE_NAME

app = typer.Typer()

_SOURCES = {
    "hub": "downloaded",
    "cache": "already cached",
    "lock": f"pinned by {LOCKFILE_NAME}, from the cache",
    "offline": "offline: the hub is unreachable, a cached version stands in",
}


@app.command()
def pull(
    ref: RefArgument,
    to: Annotated[
        Path | None,
        typer.Option(help="Also write the unpacked package into this (new or empty) folder."),
    ] = None,
    no_lock: Annotated[
        bool, typer.Option("--no-lock", help=f"Ignore {LOCKFILE_NAME}, resolve on the hub.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Download a version into the local cache (checked against its digest)."""
    from hub_cli.cache import Cache, write_tree
    from hub_cli.download import pull as pull_package

    cache = Cache()
    if to is not None and to.exists() and (not to.is_dir() or any(to.iterdir())):
        raise typer.BadParameter(f"{to} exists and is not an empty folder", param_hint="'--to'")
    with open_client() as hub:
        pulled = pull_package(ref, client=hub, cache=cache, lock=False if no_lock else None)
    snapshot = cache.snapshot(pulled.digest)
    if to is not None:
        write_tree(to, pulled.files())
    if json_output:
        print_json(
            {
                "ref": pulled.ref,
                "version": pulled.version,
                "digest": pulled.digest,
                "source": pulled.source,
                "archive": str(pulled.archive),
                "snapshot": str(snapshot),
                "copied_to": str(to) if to is not None else None,
                "locked_by": str(pulled.locked_by) if pulled.locked_by else None,
            }
        )
        return
    say(f"Pulled {pulled.ref} ({_SOURCES.get(pulled.source, pulled.source)})")
    say(f"digest   {pulled.digest}")
    say(f"snapshot {snapshot}")
    if to is not None:
        say(f"copied   {to}")


@app.command()
def lock(
    ref: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="REF", help="References to add to the lock's requests before locking."
        ),
    ] = None,
    file: Annotated[Path, typer.Option("--file", help="The lockfile to write.")] = Path(
        LOCKFILE_NAME
    ),
    pull_too: Annotated[
        bool, typer.Option("--pull", help="Also pull every locked version into the cache.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Resolve every requested reference and write exact versions and digests to hub.lock."""
    from hub_cli.download import pull as pull_package
    from hub_cli.lockfile import LockedComponent, Lockfile
    from hub_cli.reference import Reference

    lockfile = Lockfile.load(file) if file.exists() else Lockfile(path=file)
    for text in ref or []:
        request = str(Reference.parse(text))
        if request not in lockfile.requests:
            lockfile.requests.append(request)
    if not lockfile.requests:
        raise typer.BadParameter(
            f"nothing to lock: give references (hub lock ns/name@^1.2) or list them under "
            f"`requests` in {file}"
        )
    components: list[LockedComponent] = []
    with open_client() as hub:
        for request in lockfile.requests:
            version = hub.resolve(request)
            components.append(
                LockedComponent(
                    request=str(Reference.parse(request)),
                    name=f"{version.namespace}/{version.name}",
                    version=version.version,
                    digest=version.digest,
                )
            )
        lockfile.components = components
        lockfile.hub = hub.url
        lockfile.save()
        if pull_too:
            for entry in components:
                pull_package(entry.request, client=hub, lock=lockfile)
    if json_output:
        print_json(
            {
                "path": str(file),
                "hub": lockfile.hub,
                "components": [vars(entry) for entry in components],
            }
        )
        return
    rows = table("REQUEST", "VERSION", "DIGEST")
    for entry in components:
        rows.add_row(entry.request, entry.version, short_digest(entry.digest))
    console().print(rows)
    say(f"Wrote {file} ({len(components)} component{'s' if len(components) != 1 else ''}).")
