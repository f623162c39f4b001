"""``hub login``, ``hub logout``, ``hub whoami``: who the CLI talks to the hub as."""

from __future__ import annotations

from typing import Annotated

import typer

from hub_cli import constants
from hub_cli.commands._context import JsonOption, open_client
from hub_cli.commands._output import print_json, say, warn

app = typer.Typer()


@app.command()
def login(
    url: Annotated[
        str | None,
        typer.Option(help="The hub's URL.", show_default="HUB_URL, the saved one, or local"),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(help="An API token (asked for, hidden, when not given)."),
    ] = None,
) -> None:
    """Check a hub URL and token with the hub, then save them in the config file."""
    if token is None:
        token = typer.prompt("Token", hide_input=True).strip()
    with open_client(url=url, token=token) as hub:
        user = hub.whoami()
        path = constants.save_config(url=hub.url, token=token)
    role = " (administrator)" if user.is_admin else ""
    say(f"Logged in to {hub.url} as {user.name}{role}; saved in {path}.")
    current = constants.load_config()
    if current.token_from_environment:
        warn("HUB_TOKEN is set and takes precedence over the saved token")
    if current.url_source == "environment" and current.url != hub.url:
        warn(f"HUB_URL is set ({current.url}) and takes precedence over the saved URL")


@app.command()
def logout() -> None:
    """Forget the saved token (the saved URL is kept)."""
    path = constants.forget_token()
    if path is not None:
        say(f"Logged out: the token is removed from {path}.")
    else:
        say("Not logged in: there is no saved token.")
    if constants.load_config().token_from_environment:
        warn("HUB_TOKEN is still set in the environment")


@app.command()
def whoami(json_output: JsonOption = False) -> None:
    """Show who the saved token (or HUB_TOKEN) belongs to."""
    with open_client() as hub:
        user = hub.whoami()
    if json_output:
        print_json({**user.to_dict(), "hub": hub.url})
        return
    role = " (administrator)" if user.is_admin else ""
    namespaces = ", ".join(user.namespaces) or "none yet"
    say(f"{user.name}{role} on {hub.url}")
    say(f"namespaces: {namespaces}")
