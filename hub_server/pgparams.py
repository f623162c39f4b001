"""How the hub's PostgreSQL connections send parameters (imported only when one connects)."""

from __future__ import annotations

from psycopg.adapt import Dumper


class UntypedInt(Dumper):
    """An int as a parameter of unknown type, which the server types by its place in the
    statement (as it types a literal ``42``).

    psycopg's own dumper sends each int as the smallest type that holds it (``smallint``,
    ``integer``, ``bigint``), and psycopg keys its prepared statements by the statement's text
    *and* its parameters' types. A page of ids, one parameter each, then had a new key almost
    every time: it never reached the fifth run that prepares a statement, and it pushed the
    searches' recurring statements out of the 100 keys psycopg keeps count of. Untyped, one
    statement has one key. (A fixed ``bigint`` would do that too, but a ``bigint`` does not fit
    a function's ``integer`` argument, as in ``pg_terminate_backend(%(pid)s)``.)
    """

    oid = 0

    def dump(self, obj: int) -> bytes:
        return str(int(obj)).encode()
