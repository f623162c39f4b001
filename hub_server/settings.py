"""The server's configuration, read once from the environment (prefix ``HUB_``)."""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from hub_server.archive import ArchiveLimits


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "component-hub"


class Settings(BaseSettings):
    """Every knob of the server. Built once per app by :func:`hub_server.app.create_app`."""

    model_config = SettingsConfigDict(env_prefix="HUB_", extra="ignore")

    data_dir: Path = Field(default_factory=_default_data_dir)
    database_url: str | None = None
    """SQLAlchemy URL; default ``sqlite:///<data_dir>/hub.db``."""
    storage_url: str | None = None
    """``file:///path`` (default ``<data_dir>/blobs``) or ``s3://bucket/prefix``."""
    s3_endpoint_url: str | None = None
    admin_token: SecretStr | None = None
    """When set, this token is an administrator's from startup on."""

    max_archive_bytes: int = 20 * 1024 * 1024
    max_entry_bytes: int = 10 * 1024 * 1024
    max_total_bytes: int = 50 * 1024 * 1024
    max_entries: int = 1000

    resolve_images: bool = True
    """Pin image tags to digests through the OCI distribution API at publish time."""
    image_resolve_timeout: float = 3.0
    insecure_registries: list[str] = Field(default_factory=list)
    """Registries reached over plain HTTP (loopback ones always are)."""

    pull_flush_seconds: float = 1.0
    """Each worker writes its download counts this often (0: on every download)."""
    search_concurrency: int | None = Field(default=None, ge=1)
    """Listings and searches a worker runs at once (the rest queue; see ``AppState``). By
    default 2 on SQLite, whose statements run in the worker's own threads (3 at once: 487
    uncached searches/s against 504, one worker at 100k components, 32 concurrent requests in
    process), and 8 on PostgreSQL, whose statements run in the database's processes while the
    worker waits on the network (226-274 searches/s with 2, 300-304 with 6, same load; once
    the searches ran on the driver, live over HTTP: 411-473/s with 6, 471-490 with 8, 500-506
    with 10, which hold every connection of the default pool of 10, and 467-494 with 12, whose
    p99 grew to 107-122 ms)."""
    publish_concurrency: int = Field(default=2, ge=1)
    """Publishes a worker validates and writes at once (the rest queue; see ``AppState``)."""
    package_checker: Literal["process", "inline"] = "process"
    """Where a worker validates uploaded packages: in a helper process of its own (~32 MiB;
    on another core, and a runaway parser is killed there, see :mod:`hub_server.validator`),
    or ``inline`` in the publishing request's thread."""
    package_check_seconds: float = Field(default=30.0, gt=0)
    """A package whose check takes longer is refused (``validation_timeout``) and the helper
    is restarted (``package_checker=process`` only)."""
    read_cache_mb: int = 16
    """Each worker answers repeated resolve/version/component.yaml reads from memory, checked
    against the component's row on every request (:mod:`hub_server.api.cache`); this is the
    memory it may hold, in MiB. 0 switches it off."""
    listing_cache_seconds: float = Field(default=60.0, ge=0)
    """The read cache also answers repeated listings and searches, checked against the
    catalogue's change counter on every request; their download counts (and popularity order)
    may be this many seconds old. 0 keeps no listings."""
    heap_trim_seconds: float = Field(default=5.0, ge=0)
    """Each worker hands the memory it has freed back to the system this often (glibc's
    ``malloc_trim``, :mod:`hub_server.memory`); 0 never does."""
    seed_builtins: bool = True
    """``hub serve`` publishes the built-in components of ``components/`` under ``library``."""

    log_level: str = "INFO"
    log_format: str = "json"
    """``json`` (one object per line, for log shippers) or ``text`` (for a terminal)."""
    db_pool_size: int = 10
    db_echo: bool = False

    def search_slots(self, dialect: str) -> int:
        """How many listings and searches a worker runs at once on a database of ``dialect``."""
        if self.search_concurrency is not None:
            return self.search_concurrency
        return 8 if dialect == "postgresql" else 2

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'hub.db').resolve()}"

    @cached_property
    def resolved_storage_url(self) -> str:
        if self.storage_url:
            return self.storage_url
        return (self.data_dir / "blobs").resolve().as_uri()

    @cached_property
    def archive_limits(self) -> ArchiveLimits:
        return ArchiveLimits(
            max_archive_bytes=self.max_archive_bytes,
            max_entry_bytes=self.max_entry_bytes,
            max_total_bytes=self.max_total_bytes,
            max_entries=self.max_entries,
        )
