"""``hub serve``: migrate, make sure an administrator exists, then run uvicorn."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from sqlmodel import Session

from hub_server.db import make_engine, migrate
from hub_server.logs import configure_logging
from hub_server.seed import BUILTIN_COMPONENTS_DIR, SeedError, SeedStatus, seed_builtin_components
from hub_server.services.auth import AuthService
from hub_server.settings import Settings

ADMIN_TOKEN_FILE = "admin-token"  # noqa: S105 - a file name, not a secret


def prepare(settings: Settings) -> str | None:
    """Migrate the database and bootstrap the administrator.

    Returns:
        A newly created administrator token (written to ``<data_dir>/admin-token``, mode
        0600), or None when ``HUB_ADMIN_TOKEN`` is set or an administrator token exists.
    """
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url)
    try:
        migrate(engine)
        with Session(engine) as session:
            admin_token = settings.admin_token.get_secret_value() if settings.admin_token else None
            created = AuthService(session).bootstrap_admin(admin_token)
    finally:
        engine.dispose()
    if created:
        path = settings.data_dir / ADMIN_TOKEN_FILE
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(created + "\n")
        os.chmod(path, 0o600)
    return created


def serve(
    settings: Settings, *, host: str = "127.0.0.1", port: int = 8000, workers: int = 1
) -> None:
    """Prepare, then serve the API and catalogue with uvicorn until interrupted."""
    import uvicorn

    configure_logging(settings.log_level, settings.log_format)
    created = prepare(settings)
    token_file = Path(settings.data_dir) / ADMIN_TOKEN_FILE
    if created:
        sys.stderr.write(
            "\nAn administrator token was created. It is shown once and kept in "
            f"{token_file} (mode 0600):\n\n    {created}\n\n"
        )
    if settings.seed_builtins and BUILTIN_COMPONENTS_DIR.is_dir():
        try:
            results = seed_builtin_components(settings, BUILTIN_COMPONENTS_DIR)
        except SeedError as exc:
            sys.stderr.write(f"hub serve: {exc.message}\n")
            raise SystemExit(1) from None
        published = [r.ref for r in results if r.status == SeedStatus.PUBLISHED]
        sys.stderr.write(
            f"Built-in components: {len(results)} in library/"
            + (f", published now: {', '.join(published)}" if published else ", all up to date")
            + "\n"
        )
    # Workers build their app from the environment, so hand the settings over through it.
    os.environ["HUB_DATA_DIR"] = str(settings.data_dir.resolve())
    if settings.database_url:
        os.environ["HUB_DATABASE_URL"] = settings.database_url
    if settings.storage_url:
        os.environ["HUB_STORAGE_URL"] = settings.storage_url
    sys.stderr.write(f"Component Hub serving on http://{host}:{port} (API docs: /docs)\n")
    sys.stderr.flush()
    uvicorn.run(
        "hub_server.app:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        access_log=False,
        proxy_headers=True,
    )
