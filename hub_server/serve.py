"""``hub serve``: migrate, make sure an administrator exists, seed, then serve.

The preparation (migrations, the administrator, the built-in components) runs in a child
process that exits before serving starts. It imports SQLAlchemy, Alembic, the services and kfp;
done in the process that goes on to supervise the workers, all of that (~100 MiB) would stay
resident for the server's lifetime in a process that only watches its workers. With one
worker this process then runs uvicorn itself. With several (on POSIX) it replaces itself
(``exec``, same pid) by ``python -m hub_server.supervisor``, a fresh interpreter with the
standard library alone (none of uvicorn, asyncio, multiprocessing, the server or the CLI),
which binds the socket and starts the workers, ``python -m hub_server.worker``.
"""

from __future__ import annotations

import ctypes
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub_server.logs import configure_logging
from hub_server.supervisor import display_url

if TYPE_CHECKING:
    from hub_server.settings import Settings

ADMIN_TOKEN_FILE = "admin-token"  # noqa: S105 - a file name, not a secret
# glibc gives threads that allocate their own malloc arena, up to 8 per core; a worker's thread
# pool (sync routes) then holds tens of MiB of half-empty arenas. Two are plenty for one event
# loop and a few pool threads (measured: -25 to -45 MiB a worker after the bench's reads).
MALLOC_ARENA_MAX = 2
_M_ARENA_MAX = -8  # mallopt's parameter number (malloc.h)
# kfp's switch for its runtime image: `import kfp` then skips its client, compiler and the
# Kubernetes models (~45 MiB a process); the hub only reads specs (see hub_server.kfp_spec).
KFP_RUNTIME_ENV = "_KFP_RUNTIME"


UVICORN_OPTIONS: dict[str, Any] = {
    "app": "hub_server.app:create_app_from_env",
    "factory": True,  # each worker builds its app from the environment
    "log_config": None,  # the hub's logging (hub_server.logs), not uvicorn's
    "access_log": False,
    "proxy_headers": True,
}
"""How uvicorn serves the hub, in process (:func:`run_uvicorn`) and in each worker of the
supervisor (:mod:`hub_server.worker`)."""


def limit_malloc_arenas() -> None:
    """Cap glibc's malloc arenas in this process (from now on) and in the processes it starts
    (through ``MALLOC_ARENA_MAX``, read at their start). An explicit ``MALLOC_ARENA_MAX`` in
    the environment wins; elsewhere than glibc this does nothing."""
    arenas = os.environ.setdefault("MALLOC_ARENA_MAX", str(MALLOC_ARENA_MAX))
    if not sys.platform.startswith("linux") or not arenas.isdigit():
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(_M_ARENA_MAX, int(arenas))
    except (OSError, AttributeError):  # not glibc (musl): its malloc has no arenas to cap
        return


def prepare(settings: Settings) -> str | None:
    """Migrate the database and bootstrap the administrator.

    Returns:
        A newly created administrator token (written to ``<data_dir>/admin-token``, mode
        0600), or None when ``HUB_ADMIN_TOKEN`` is set or an administrator token exists.
    """
    from sqlmodel import Session

    from hub_server.db import make_engine, migrate
    from hub_server.services.auth import AuthService

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


@dataclass(frozen=True)
class _Prepared:
    """What the preparing child hands back to the supervisor."""

    exit_code: int
    log_level: str = "INFO"
    log_format: str = "json"
    environment: tuple[tuple[str, str], ...] = ()


def _prepare_and_seed(data_dir: Path | None) -> _Prepared:
    """In the child: read the settings, prepare, print the new token, seed the built-ins."""
    from hub_server.seed import (
        BUILTIN_COMPONENTS_DIR,
        SeedError,
        SeedStatus,
        seed_builtin_components,
    )
    from hub_server.settings import Settings

    settings = Settings(data_dir=data_dir) if data_dir else Settings()
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
            sys.stderr.flush()
            return _Prepared(exit_code=1)
        published = [r.ref for r in results if r.status == SeedStatus.PUBLISHED]
        sys.stderr.write(
            f"Built-in components: {len(results)} in library/"
            + (f", published now: {', '.join(published)}" if published else ", all up to date")
            + "\n"
        )
    sys.stderr.flush()
    # Workers build their app from the environment, so hand the settings over through it.
    environment = {"HUB_DATA_DIR": str(settings.data_dir.resolve())}
    if settings.database_url:
        environment["HUB_DATABASE_URL"] = settings.database_url
    if settings.storage_url:
        environment["HUB_STORAGE_URL"] = settings.storage_url
    return _Prepared(
        exit_code=0,
        log_level=settings.log_level,
        log_format=settings.log_format,
        environment=tuple(environment.items()),
    )


def serve(
    data_dir: Path | None = None, *, host: str = "127.0.0.1", port: int = 8000, workers: int = 1
) -> None:
    """Prepare (in a child process), then serve the API and catalogue with uvicorn until
    interrupted.

    Args:
        data_dir: the data folder (default: ``HUB_DATA_DIR``, else the settings' default).
        host: address to listen on.
        port: port to listen on.
        workers: worker processes; with more than one, this process becomes their supervisor
            (:mod:`hub_server.supervisor`) and does not return.

    Raises:
        SystemExit: 1 when the built-in components cannot be published (with several
            workers, the supervisor's exit: 1 when the address is taken or the workers keep
            failing to start, 0 after SIGTERM or SIGINT).
        Exception: whatever preparing raised (a bad setting, an unreachable database).
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    os.environ.setdefault(KFP_RUNTIME_ENV, "true")
    limit_malloc_arenas()
    # A child process, so nothing it imports is ever in this one. fork where there is fork: a
    # spawned child would start multiprocessing's resource tracker, left behind by the exec.
    context = multiprocessing.get_context(
        "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    )
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        prepared = pool.submit(_prepare_and_seed, data_dir).result()
    if prepared.exit_code:
        raise SystemExit(prepared.exit_code)
    os.environ.update(prepared.environment)
    if workers > 1 and os.name == "posix":
        # This process goes on only to supervise the workers. It has the CLI's typer, click and
        # pydantic in memory: become a fresh interpreter (same pid) with the standard library.
        os.execv(  # noqa: S606 - argv is ours: this interpreter, this module, validated values
            sys.executable,
            [
                sys.executable,
                "-m",
                "hub_server.supervisor",
                *("--host", host, "--port", str(port), "--workers", str(workers)),
                *("--log-level", prepared.log_level, "--log-format", prepared.log_format),
            ],
        )
    sys.stderr.write(f"Component Hub serving on {display_url(host, port)} (API docs: /docs)\n")
    sys.stderr.flush()
    run_uvicorn(
        host=host,
        port=port,
        workers=workers,
        log_level=prepared.log_level,
        log_format=prepared.log_format,
    )


def run_uvicorn(*, host: str, port: int, workers: int, log_level: str, log_format: str) -> None:
    """Serve the app of the prepared hub (its settings in the environment) with uvicorn, in
    this process: one worker, or (where there is no :mod:`hub_server.supervisor`, on Windows)
    uvicorn's own supervisor.

    Args:
        host: address to listen on.
        port: port to listen on.
        workers: uvicorn worker processes (each builds its app from the environment).
        log_level: the hub's log level.
        log_format: ``json`` or ``text``.
    """
    import uvicorn

    limit_malloc_arenas()
    configure_logging(log_level, log_format)
    uvicorn.run(host=host, port=port, workers=workers, **UVICORN_OPTIONS)
