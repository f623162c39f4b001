"""The ``hub`` command: one Typer app joining the command groups of :mod:`hub_cli.commands`.

Heavy imports (kfp, docker, uvicorn, the server) stay inside the commands that need them, so
start-up is fast and ``hub --help`` imports none of them.
"""

from __future__ import annotations

from typing import Annotated

import typer

from hub_cli import __version__
from hub_cli.commands import account, browse, develop, manage, server, use
from hub_cli.commands._errors import DEBUG_KEY, HubGroup, configure_logging

app = typer.Typer(
    name="hub",
    cls=HubGroup,
    help="Component Hub: publish, find and use reusable Kubeflow Pipelines components.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

for group in (server, account, develop, browse, manage, use):
    app.add_typer(group.app)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"hub {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks and the SDK's debug log.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Component Hub: publish, find and use reusable Kubeflow Pipelines components."""
    ctx.meta[DEBUG_KEY] = debug
    configure_logging(debug)


def main() -> None:
    """The console script's entry point."""
    app(prog_name="hub")


if __name__ == "__main__":
    main()
