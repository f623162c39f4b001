"""Engine creation, write transactions and migrations.

SQLite gets WAL, a busy timeout and foreign keys; PostgreSQL a sized pool and no parallel
workers. The schema is only ever changed by Alembic (:func:`migrate`); ``create_all`` is not
used outside tests.

SQLite has one writer at a time. Left to itself, a writer that finds the database locked sleeps
in SQLite's busy handler with a growing back-off (up to 100 ms a try), so a burst of concurrent
publishes spends most of its time asleep and its slowest ones take seconds.
:func:`write_transaction` queues writers instead: on a mutex per engine inside the process and
on an advisory file lock beside the database across the processes of the host (uvicorn's
workers), so the next writer starts the moment the last one commits; ``BEGIN IMMEDIATE`` then
takes SQLite's write lock before the first statement, so a transaction never has to upgrade a
read lock halfway. PostgreSQL needs none of this: its writers lock rows, not the database.

Checkpoints (copying the WAL into the database file, with an fsync) are kept out of that queue
too: SQLite runs one inside the commit that finds the WAL past ``wal_autocheckpoint`` pages,
while the writer still holds the lock, so every writer waits for the disk. The hub's writers
instead checkpoint (``PASSIVE``: it waits for no one) after leaving the queue, every
:data:`CHECKPOINT_EVERY` write transactions of a process, from a thread of its own (the writer
returns to its caller without waiting for the disk); the automatic checkpoint stays as a
backstop for the writes that do not go through :func:`write_transaction`, at a size it rarely
reaches.
"""

from __future__ import annotations

import logging
import os
import select
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlmodel import Session

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: the in-process mutex alone
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("hub.db")

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
WRITE_LOCK_SUFFIX = ".write-lock"
CHECKPOINT_EVERY = 20
"""Write transactions of a process between two of its checkpoints (a publish adds ~50 pages)."""
WAL_AUTOCHECKPOINT_PAGES = 10_000
SQLITE_CACHE_KIB = 512
SQLITE_CACHED_STATEMENTS = 16
"""Prepared statements Python's sqlite3 keeps per connection (its default is 128). Search and
listing statements differ by shape (words, filters, the length of an IN list of ids), so they
are rarely reused, and a prepared one can hold a megabyte: measured at 100k components, each
pooled connection that served the bench's searches kept ~26 MiB with 128 and ~4 MiB with 16,
at the same search speed (15.3 s and 15.2 s for 1,122 searches in process)."""


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers proceed while a publish writes; NORMAL sync is safe under WAL.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Each pooled connection has its own page cache (2 MiB by default), up to 15 a worker, all
    # copies of pages the OS caches anyway: 512 KiB keeps the B-trees' upper levels.
    cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
    cursor.close()


class _WriteLock:
    """Queues the writers of one SQLite database: threads on a mutex, processes on ``flock``."""

    def __init__(self, lock_path: Path | None) -> None:
        self._mutex = threading.Lock()
        self._lock_path = lock_path
        self._fd: int | None = None
        self._pid = 0
        self._writes = 0
        self._checkpointing = threading.Lock()

    def checkpoint_due(self) -> bool:
        """Count one write transaction; True every :data:`CHECKPOINT_EVERY`."""
        with self._mutex:
            self._writes += 1
            return self._writes % CHECKPOINT_EVERY == 0

    def checkpoint_in_background(self, engine: Engine) -> None:
        """Checkpoint from a thread of its own, unless one of this process's runs already.

        The writer that made a checkpoint due goes back to its caller at once: a checkpoint of
        a large database copies pages and fsyncs the file (measured at 100k components during
        publishes: 11 ms median, 62 ms mean, 306 ms at worst), and a publish that waited for
        it held one of its worker's publish slots all that time.
        """
        if not self._checkpointing.acquire(blocking=False):
            return  # the running one copies these writes too

        def run() -> None:
            try:
                _checkpoint(engine)
            finally:
                self._checkpointing.release()

        threading.Thread(target=run, name="hub-wal-checkpoint", daemon=True).start()

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._mutex:
            fd = self._file()
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                if fd is not None:
                    fcntl.flock(fd, fcntl.LOCK_UN)

    def _file(self) -> int | None:
        if self._lock_path is None or fcntl is None:
            return None
        if self._fd is None or self._pid != os.getpid():
            # A forked child must take its own lock, not share its parent's open file.
            self._fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._pid = os.getpid()
        return self._fd


_write_locks: weakref.WeakKeyDictionary[Engine, _WriteLock] = weakref.WeakKeyDictionary()
_write_locks_guard = threading.Lock()


def _write_lock(engine: Engine) -> _WriteLock:
    with _write_locks_guard:
        lock = _write_locks.get(engine)
        if lock is None:
            database = engine.url.database
            on_disk = (
                bool(database) and database != ":memory:" and "mode=memory" not in str(engine.url)
            )
            lock = _WriteLock(Path(f"{database}{WRITE_LOCK_SUFFIX}") if on_disk else None)
            _write_locks[engine] = lock
        return lock


@contextmanager
def write_transaction(session: Session) -> Iterator[None]:
    """Run the block as the session's write transaction: committed when the block ends,
    rolled back when it raises.

    Do the slow work (validation, network, blob writes) before entering: on SQLite, every other
    writer of the database waits while the block runs. Reads made earlier in the session are
    fine, writes are not (they would already hold SQLite's lock outside the queue).

    Args:
        session: the session to write through.

    Raises:
        Whatever the block raises, after the rollback.
    """
    bind = session.get_bind()
    engine = bind.engine if isinstance(bind, Connection) else bind
    if engine.dialect.name != "sqlite":
        try:
            yield
            session.commit()
        except BaseException:
            session.rollback()
            raise
        return
    lock = _write_lock(engine)
    with lock.held():
        try:
            connection = session.connection()
            driver = connection.connection.driver_connection
            # pysqlite opens a (deferred) transaction only before a data change, so a session
            # that has only read is not in one yet and can start it immediate.
            if driver is not None and not driver.in_transaction:
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            yield
            session.commit()
        except BaseException:
            session.rollback()
            raise
    if lock.checkpoint_due():
        lock.checkpoint_in_background(engine)


def insert_ignore(session: Session, table: Any) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING`` into ``table`` (a model or a Table), in the
    session's database's dialect.

    For rows that concurrent writers may both create (a component's first version, a namespace's
    first claim): on PostgreSQL the second insert waits for the first writer's commit and then
    does nothing, and the caller reads the row the first one wrote instead of failing on the
    unique constraint.
    """
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert(table).on_conflict_do_nothing()
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table).on_conflict_do_nothing()


def _checkpoint(engine: Engine) -> None:
    """Copy the WAL into the database as far as readers allow, waiting for nobody."""
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
    except sa.exc.OperationalError as exc:  # busy: another checkpoint runs; the next one will do
        log.debug("checkpoint skipped: %s", exc)


def _postgresql_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # No parallel workers: starting them costs tens of milliseconds, more than any of the hub's
    # statements (index reads that stop at a page) is worth, and the planner otherwise picks
    # them for a search's walk it overestimates. Set once per connection, not per statement
    # (a round trip each). Committed: a SET in a transaction rolled back would be undone.
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET max_parallel_workers_per_gather = 0")
    dbapi_connection.commit()
    # Python ints go untyped, as psycopg2 sent them (see UntypedInt).
    from hub_server.pgparams import UntypedInt

    dbapi_connection.adapters.register_dumper(int, UntypedInt)


def _drop_closed_connection(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """At checkout, refuse a pooled PostgreSQL connection the server has closed.

    A healthy idle connection has nothing to read: the server speaks only when asked (the hub
    uses no LISTEN). One it ended (a restart, ``pg_terminate_backend``, an idle timeout) has
    its last message or the end of the stream waiting on the socket, so a poll of the socket
    finds it without a round trip. ``pool_pre_ping`` sent ``SELECT 1`` instead, before every
    request's first statement: per uncached search, 5% of the worker's CPU and 3% of
    PostgreSQL's (one worker, 100k components, 32 connections, two alternated pairs: 2,150 →
    2,045 µs and 2,890 → 2,800 µs). ``DisconnectionError`` makes the pool drop this one and
    check out another (or connect).
    """
    try:
        readable, _, _ = select.select([dbapi_connection.fileno()], [], [], 0)
    except (OSError, ValueError):  # closed on our side already
        readable = [True]
    if readable:
        raise sa.exc.DisconnectionError("the server closed this pooled connection")


def reads_engine(engine: Engine) -> Engine:
    """The engine for sessions that only read: ``engine`` itself on SQLite; on PostgreSQL, the
    same pool with its connections in autocommit while such a session holds one.

    A read-only request gains nothing from a transaction on PostgreSQL: at READ COMMITTED each
    statement takes its own snapshot either way. It paid two round trips for it, ``BEGIN`` and
    ``ROLLBACK``, and the ``ROLLBACK`` also made psycopg forget the statements it had prepared
    on that connection (it cannot know whether the transaction's end took them away), so the
    searches' statements, the same few shapes over and over, were parsed and planned afresh on
    every request. In autocommit psycopg prepares a statement at its fifth run on a connection
    and keeps it: PostgreSQL no longer parses it, and plans some once (a generic plan: the
    capped count of one level's postings) instead of at every run. The sessions on this
    engine must not write: each statement would commit on its own.
    """
    if engine.dialect.name != "postgresql":
        return engine
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def make_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> Engine:
    """Create the engine for ``url`` (``sqlite:///...`` or ``postgresql+psycopg://...``).

    Args:
        url: SQLAlchemy URL; a plain ``postgresql://`` URL is given the psycopg 3 driver.
        pool_size: connections kept per process (PostgreSQL).
        echo: log SQL.

    Returns:
        The engine.
    """
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    if is_sqlite(url):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url,
            echo=echo,
            connect_args={
                "check_same_thread": False,
                "timeout": 10,
                "cached_statements": SQLITE_CACHED_STATEMENTS,
            },
        )
        sa.event.listen(engine, "connect", _sqlite_on_connect)
        return engine
    engine = sa.create_engine(url, echo=echo, pool_size=pool_size, max_overflow=pool_size)
    sa.event.listen(engine, "connect", _postgresql_on_connect)
    sa.event.listen(engine, "checkout", _drop_closed_connection)
    return engine


def alembic_config(url: str) -> Config:
    from alembic.config import Config  # only migrations need alembic (and mako)

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the database behind ``engine`` to ``revision`` (default: the newest).

    Args:
        engine: the engine to migrate through (its URL and dialect are used).
        revision: the Alembic revision to upgrade to.
    """
    # Importing alembic logs which plugins it sets up; imported at start-up (as it was before
    # it became lazy) those lines came before logging was configured and nobody saw them.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    from alembic import command

    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
