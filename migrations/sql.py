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


def definition_from(revision_file: str, name: str) -> str:
    """A SQL definition kept in an earlier revision (a downgrade restores it instead of copying it)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parent / "versions" / revision_file
    spec = importlib.util.spec_from_file_location(f"_lana_migration_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)
