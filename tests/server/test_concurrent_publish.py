"""Concurrent publishes: SQLite writers queue instead of colliding, and the publishes of one
component take turns on every database (no lost count, the right latest version)."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from hub_server import db
from hub_server.db import make_engine, write_transaction
from hub_server.services.auth import ADMIN_USER, AuthService, Principal
from hub_server.services.components import ComponentService
from hub_server.settings import Settings
from hub_server.storage import BlobStorage, open_storage
from tests.factories import V1_SPEC, pack_package

Package = tuple[str, str, bytes]
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _no_busy_wait(dbapi_connection: Any, _record: Any) -> None:
    # A writer that finds the database locked fails at once instead of sleeping in SQLite's
    # busy handler: two write transactions that overlap show up as an error.
    dbapi_connection.execute("PRAGMA busy_timeout=0")


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    engine = make_engine(settings.resolved_database_url, pool_size=20)
    yield engine
    engine.dispose()


@pytest.fixture
def storage(settings: Settings) -> BlobStorage:
    return open_storage(settings.resolved_storage_url)


def _admin(engine: Engine) -> Principal:
    with Session(engine) as session:
        user = AuthService(session).get_user(ADMIN_USER)
        assert user.id is not None
        return Principal(id=user.id, name=user.name, is_admin=True)


def _publish_all(
    engine: Engine, storage: BlobStorage, settings: Settings, packages: list[Package]
) -> list[str]:
    """Publish every package from its own thread at once; the errors, as ``Type: message``."""
    principal = _admin(engine)

    def publish(package: Package) -> str | None:
        try:
            with Session(engine, expire_on_commit=False) as session:
                service = ComponentService(session, storage, settings.archive_limits)
                service.publish(principal, *package)
        except Exception as exc:  # every failure is what the test reports
            return f"{type(exc).__name__}: {exc}"
        return None

    with ThreadPoolExecutor(max_workers=len(packages)) as pool:
        return [error for error in pool.map(publish, packages) if error]


def _packages(tmp_path: Path, namespace: str, names: list[str], versions: int) -> list[Package]:
    return [
        (
            namespace,
            name,
            pack_package(tmp_path / f"{name}-{n}", name=name, version=f"1.{n}.0", spec=V1_SPEC),
        )
        for n in range(versions)
        for name in names
    ]


def _component(engine: Engine, namespace: str, name: str) -> tuple[int, str | None]:
    with engine.connect() as connection:
        row = connection.execute(
            sa.text(
                "SELECT versions_count, latest_version FROM components "
                "WHERE namespace = :ns AND name = :name"
            ),
            {"ns": namespace, "name": name},
        ).one()
    return int(row[0]), row[1]


def test_concurrent_first_publishes_into_an_unclaimed_namespace_all_land(
    engine: Engine,
    storage: BlobStorage,
    settings: Settings,
    tmp_path: Path,
) -> None:
    # Into an unclaimed namespace, four new components: the first publishes claim the namespace
    # and create each component while the others run. Before the write queue, on SQLite the
    # losers of the claim answered concurrent_write and counts were lost; before inserts that
    # wait for the first writer (ON CONFLICT DO NOTHING), the same happened on PostgreSQL.
    packages = _packages(tmp_path, "team", ["train", "split", "score", "plot"], versions=6)

    errors = _publish_all(engine, storage, settings, packages)

    assert errors == []
    for name in ("train", "split", "score", "plot"):
        assert _component(engine, "team", name) == (6, "1.5.0")


def test_two_users_racing_for_an_unclaimed_namespace_one_wins_the_other_is_forbidden(
    engine: Engine,
    storage: BlobStorage,
    settings: Settings,
    tmp_path: Path,
) -> None:
    admin = _admin(engine)
    users = []
    with Session(engine, expire_on_commit=False) as session:
        for name in ("ana", "ben"):
            user, _token = AuthService(session).create_user(admin, name, is_admin=False)
            assert user.id is not None
            users.append(Principal(id=user.id, name=user.name, is_admin=False))
        session.commit()
    jobs = [
        (users[k % 2], pack_package(tmp_path / f"p{k}", name=f"c{k}", version="1.0.0"), f"c{k}")
        for k in range(8)
    ]

    def publish(job: tuple[Principal, bytes, str]) -> str:
        principal, data, name = job
        try:
            with Session(engine, expire_on_commit=False) as session:
                service = ComponentService(session, storage, settings.archive_limits)
                service.publish(principal, "shared", name, data)
        except Exception as exc:
            return f"{principal.name} {type(exc).__name__}"
        return f"{principal.name} ok"

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        outcomes = sorted(pool.map(publish, jobs))

    winners = {o.split()[0] for o in outcomes if o.endswith(" ok")}
    assert len(winners) == 1, outcomes
    [winner] = winners
    loser = ({"ana", "ben"} - winners).pop()
    assert outcomes.count(f"{winner} ok") == 4
    assert outcomes.count(f"{loser} Forbidden") == 4, "refused, never a write conflict"


def test_concurrent_publishes_of_one_component_take_turns(
    engine: Engine, storage: BlobStorage, settings: Settings, tmp_path: Path
) -> None:
    _publish_all(engine, storage, settings, _packages(tmp_path / "first", "team", ["train"], 1))
    packages = _packages(tmp_path, "team", ["train"], versions=16)[1:]

    errors = _publish_all(engine, storage, settings, packages)

    assert errors == []
    assert _component(engine, "team", "train") == (16, "1.15.0")


def _hold_write_lock(database_url: str, started: Any, release: Any) -> None:
    engine = make_engine(database_url)
    with Session(engine) as session, write_transaction(session):
        started.set()
        release.wait(10)
    engine.dispose()


@sqlite_only
def test_the_sqlite_write_queue_spans_processes(
    engine: Engine, settings: Settings, database_url: str
) -> None:
    """Another process's write transaction makes this one wait for it (on the file lock),
    where SQLite alone, without a busy timeout, would fail at once."""
    sa.event.listen(engine, "connect", _no_busy_wait)
    context = multiprocessing.get_context("spawn")
    started, release = context.Event(), context.Event()
    holder = context.Process(
        target=_hold_write_lock, args=(settings.resolved_database_url, started, release)
    )
    holder.start()
    try:
        assert started.wait(30)
        with pytest.raises(sa.exc.OperationalError, match="locked"), Session(engine) as session:
            # Outside the queue: SQLite refuses the second writer.
            session.connection().exec_driver_sql("BEGIN IMMEDIATE")
        # In the queue: this writer waits until the other process commits, then goes.
        threading.Timer(0.5, release.set).start()
        with Session(engine) as session, write_transaction(session):
            session.connection().exec_driver_sql("CREATE TABLE queued (id INTEGER)")
    finally:
        release.set()
        holder.join(30)
    assert holder.exitcode == 0
    with sqlite3.connect(settings.resolved_database_url.split("///", 1)[1]) as connection:
        assert connection.execute("SELECT count(*) FROM queued").fetchone() == (0,)


@sqlite_only
def test_writers_checkpoint_the_wal_after_leaving_the_queue(
    engine: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every CHECKPOINT_EVERY writes a checkpoint runs, outside the queue and in a thread of
    its own: the writer that made it due returns without waiting for it."""
    held: list[bool] = []
    threads: list[str] = []
    lock = db._write_lock(engine)
    release = threading.Event()

    def checkpoint(_engine: Engine) -> None:
        held.append(lock._mutex.locked())
        threads.append(threading.current_thread().name)
        release.wait(10)

    monkeypatch.setattr(db, "_checkpoint", checkpoint)

    def write(times: int) -> None:
        for _ in range(times):
            with Session(engine) as session, write_transaction(session):
                session.connection().exec_driver_sql("CREATE TABLE IF NOT EXISTS t (id INTEGER)")

    write(db.CHECKPOINT_EVERY)  # returns while the checkpoint it made due is still running
    assert not release.is_set()
    # Due again while the first still runs: that one copies these writes too, none starts.
    write(db.CHECKPOINT_EVERY)
    release.set()
    deadline = time.monotonic() + 10
    while lock._checkpointing.locked() and time.monotonic() < deadline:
        time.sleep(0.01)
    release.clear()
    write(db.CHECKPOINT_EVERY)
    release.set()
    while len(held) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)

    assert held == [False, False]
    assert threads == ["hub-wal-checkpoint", "hub-wal-checkpoint"]
    with engine.connect() as connection:
        autocheckpoint = connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
    assert autocheckpoint == db.WAL_AUTOCHECKPOINT_PAGES
