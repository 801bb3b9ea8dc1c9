"""Run a multi-statement SQL script inside an Alembic migration.

asyncpg prepares every statement, and a prepared statement may hold only one command; scripts with
PL/pgSQL functions therefore go through asyncpg's simple-query protocol on the same connection
(and so the same transaction) that Alembic is using.
"""

from __future__ import annotations

from alembic import op
from sqlalchemy.util import await_only


def run_script(sql: str) -> None:
    dbapi_conn = op.get_bind().connection.dbapi_connection
    await_only(dbapi_conn._connection.execute(sql))
