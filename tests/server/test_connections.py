"""PostgreSQL connections: ended ones are replaced before a request uses them, and those of
read-only sessions keep their prepared statements."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any

import httpx
import psycopg
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from psycopg.pq import TransactionStatus
from sqlmodel import Session

from hub_server.db import make_engine, reads_engine


def _backend_pids(engine: sa.Engine, count: int) -> set[int]:
    """Check out ``count`` connections at once (so the pool holds that many) and return their
    server processes."""
    connections = [engine.connect() for _ in range(count)]
    try:
        return {c.execute(sa.text("SELECT pg_backend_pid()")).scalar_one() for c in connections}
    finally:
        for connection in connections:
            connection.close()


def test_connections_the_server_ended_are_replaced_at_checkout(postgres_server_url: str) -> None:
    """A restart, an idle timeout or an administrator ends the pool's connections while they
    sit idle: the next requests get working ones, not an error."""
    engine = make_engine(postgres_server_url, pool_size=3)
    try:
        ended = _backend_pids(engine, 3)
        with psycopg.connect(postgres_server_url, autocommit=True) as admin:
            for pid in ended:
                admin.execute("SELECT pg_terminate_backend(%s)", [pid])
            deadline = time.monotonic() + 10
            while admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", [list(ended)]
            ).fetchone() != (0,):
                assert time.monotonic() < deadline, "the backends did not end"
                time.sleep(0.05)

        served = set()
        for _ in range(6):  # more than the pool held: every ended connection is checked out
            with engine.connect() as conn:
                assert conn.execute(sa.text("SELECT 1")).scalar_one() == 1
                served.add(conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())
        assert not served & ended
        assert _backend_pids(engine, 3).isdisjoint(ended)
    finally:
        engine.dispose()


def _prepared(session: Session, like: str) -> int:
    """How many statements matching ``like`` the session's connection has prepared."""
    return (
        session.connection()
        .exec_driver_sql(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %(like)s",
            {"like": like},
        )
        .scalar_one()
    )


def test_read_sessions_run_outside_a_transaction_and_keep_their_prepared_statements(
    postgres_server_url: str,
) -> None:
    """No BEGIN/ROLLBACK round trips around a read, and psycopg's prepared statements survive
    from one read to the next (a ROLLBACK makes psycopg forget them)."""
    engine = make_engine(postgres_server_url, pool_size=1)
    reads = reads_engine(engine)
    statement = (
        sa.select(sa.func.count())
        .where(sa.literal_column("relpages") >= sa.bindparam("pages", type_=sa.Integer))
        .select_from(sa.table("pg_class"))
    )
    try:
        for pages in range(8):  # psycopg prepares a statement at its fifth run
            with Session(reads) as session:
                assert session.connection().execute(statement, {"pages": pages}).scalar_one() > 0
                info = session.connection().connection.dbapi_connection.info  # type: ignore[union-attr]
                assert info.transaction_status == TransactionStatus.IDLE
                session.rollback()
        with Session(reads) as session:
            assert _prepared(session, "%relpages%") == 1

        with Session(engine) as session:  # the write engine's sessions stay transactions
            session.connection().execute(statement, {"pages": 0})
            info = session.connection().connection.dbapi_connection.info  # type: ignore[union-attr]
            assert info.transaction_status == TransactionStatus.INTRANS
    finally:
        engine.dispose()


def test_ints_of_any_size_share_one_prepared_statement(postgres_server_url: str) -> None:
    """psycopg keys a prepared statement by its parameters' types too: ints sent as the
    smallest type that holds each gave a page of ids a new key almost every time."""
    engine = reads_engine(make_engine(postgres_server_url, pool_size=1))
    params = ("a", "b", "c")
    statement = sa.select(sum((sa.bindparam(p, type_=sa.Integer) for p in params), sa.literal(7)))
    try:
        # Each of the 8 mixes of a smallint and an integer value, once: no mix runs 5 times.
        for values in itertools.product((1, 100_000), repeat=len(params)):
            with Session(engine) as session:
                row = dict(zip(params, values, strict=True))
                assert session.connection().execute(statement, row).scalar_one() == sum(values) + 7
        with Session(engine) as session:
            assert _prepared(session, "%+ $3::INTEGER%") == 1
    finally:
        engine.dispose()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_searches_keep_their_statements_prepared(
    client: TestClient,
    app: Any,
    alice: dict[str, str],
    publish: Callable[..., httpx.Response],
) -> None:
    """The API's search reads on a read session: repeated, its statements are prepared once
    and kept on the pool's connections."""
    assert publish("alice", alice, name="tokenize", readme="split text").status_code == 201
    for _ in range(12):  # every pooled connection runs them at least five times
        response = client.get(
            "/api/v1/components", params={"q": "tokenize"}, headers={"Cache-Control": "no-cache"}
        )
        assert [c["name"] for c in response.json()["items"]] == ["tokenize"]
    with app.state.hub.read_session() as session:
        assert _prepared(session, "%search_terms%") >= 1
