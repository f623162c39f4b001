"""Pooled PostgreSQL connections that the server ended are replaced before a request uses them."""

from __future__ import annotations

import time

import psycopg
import sqlalchemy as sa

from hub_server.db import make_engine


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
