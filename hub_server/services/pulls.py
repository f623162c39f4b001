"""Pull counting without a database write per download.

Each worker adds downloads to an in-memory tally and flushes it every ``interval`` seconds in
one transaction of increments (``pulls = pulls + n``, never read-modify-write, so any number of
workers and replicas add up). A download on SQLite then no longer waits for the write lock.
Counts become visible within one interval; a worker that is killed (not stopped) loses at most
one interval of counts, which is acceptable for a popularity figure. ``interval == 0`` writes
through on every download.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import Counter

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from hub_server.models import Component, Version
from hub_server.periodic import Periodic

log = logging.getLogger("hub.pulls")

PullKey = tuple[str, str, str]
"""(namespace, name, version)"""


def add_pulls(session: Session, counts: Counter[PullKey]) -> None:
    """Add ``counts`` to the versions' and their components' pull counters (caller commits)."""
    per_component: Counter[tuple[str, str]] = Counter()
    for (namespace, name, version), n in counts.items():
        component_id = (
            select(Component.id)
            .where(Component.namespace == namespace, Component.name == name)
            .scalar_subquery()
        )
        session.execute(
            sa.update(Version)
            .where(col(Version.component_id) == component_id, col(Version.version) == version)
            .values(pulls=Version.pulls + n)
        )
        per_component[(namespace, name)] += n
    for (namespace, name), n in per_component.items():
        session.execute(
            sa.update(Component)
            .where(col(Component.namespace) == namespace, col(Component.name) == name)
            .values(pulls=Component.pulls + n)
        )


class PullCounter:
    """A worker's tally of downloads, flushed to the database periodically."""

    def __init__(self, engine: Engine, interval: float) -> None:
        self.engine = engine
        self.interval = interval
        self._pending: Counter[PullKey] = Counter()
        self._lock = threading.Lock()
        self._flusher = Periodic(self.flush, interval)

    def add(self, namespace: str, name: str, version: str) -> None:
        """Count one download (of an archive or a component.yaml)."""
        with self._lock:
            self._pending[(namespace, name, version)] += 1
        if self.interval <= 0:
            self.flush()

    def flush(self) -> None:
        """Write the tally so far. Best effort: a failure is logged and the counts are kept."""
        with self._lock:
            counts, self._pending = self._pending, Counter()
        if not counts:
            return
        try:
            with Session(self.engine) as session:
                add_pulls(session, counts)
                session.commit()
        except sa.exc.OperationalError:
            log.warning("could not write %d pull counts; keeping them", sum(counts.values()))
            with self._lock:
                self._pending.update(counts)

    def start(self) -> None:
        """Flush every ``interval`` seconds (the app's lifespan starts and stops this)."""
        self._flusher.start()

    async def stop(self) -> None:
        await self._flusher.stop()
        await asyncio.to_thread(self.flush)
