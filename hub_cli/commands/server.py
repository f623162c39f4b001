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
    # The settings are read by the child process that prepares the hub: this process goes on
    # to supervise uvicorn's workers and imports nothing of the server (see hub_server.serve).
    from hub_server.serve import serve as run

    run(data_dir, host=host, port=port, workers=workers)


@app.command()
def gc(
    data_dir: Annotated[
        Path | None,
        typer.Option(help="the hub's data folder (HUB_DATA_DIR); its settings come from HUB_*"),
    ] = None,
    grace_minutes: Annotated[
        int, typer.Option(min=0, help="spare blobs younger than this (a publish may be committing)")
    ] = 60,
    dry_run: Annotated[
        bool, typer.Option(help="report what would be removed, remove nothing")
    ] = False,
) -> None:
    """Remove archive blobs that no version names (left by failed publishes).

    Runs on the hub's own database and storage, like `hub serve`; safe while the hub serves.
    """
    from datetime import timedelta

    from sqlmodel import Session

    from hub_server.db import make_engine
    from hub_server.services.gc import collect_garbage
    from hub_server.settings import Settings
    from hub_server.storage import open_storage

    settings = Settings(data_dir=data_dir) if data_dir else Settings()
    engine = make_engine(settings.resolved_database_url)
    storage = open_storage(settings.resolved_storage_url, s3_endpoint_url=settings.s3_endpoint_url)
    try:
        with Session(engine) as session:
            report = collect_garbage(
                session, storage, grace=timedelta(minutes=grace_minutes), dry_run=dry_run
            )
    finally:
        engine.dispose()
    verb = "would remove" if dry_run else "removed"
    typer.echo(
        f"scanned {report.scanned} blobs: {report.referenced} in use, {report.young} too young, "
        f"{verb} {len(report.removed)} ({report.bytes_freed} bytes)"
    )
    for digest in report.removed:
        typer.echo(f"  {digest}")
