"""``hub serve``: run the hub itself (the server is imported only when it starts)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer()


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="where the SQLite database, blobs and admin token live (HUB_DATA_DIR)"),
    ] = None,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes")] = 1,
) -> None:
    """Run the hub: migrate the database, then serve the API and catalogue."""
    from hub_server.serve import serve as run
    from hub_server.settings import Settings

    settings = Settings(data_dir=data_dir) if data_dir else Settings()
    run(settings, host=host, port=port, workers=workers)
