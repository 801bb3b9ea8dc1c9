"""`lana migrate` (the real CLI) against an empty database and a bare Temporal dev server, twice."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid

import asyncpg
from alembic.script import ScriptDirectory
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.testing import WorkflowEnvironment

from activities.migrate import alembic_config
from tests.harness import _bin
from workflows.search_attributes import ALL_KEYS

SCHEMA_SQL = """
SELECT table_name, column_name, data_type, is_nullable
FROM information_schema.columns WHERE table_schema = 'public'
ORDER BY table_name, column_name
"""


async def _lana_migrate(env: dict[str, str]) -> list[dict]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "workers.cli", "migrate",
        env={**os.environ, **env}, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode()
    return [json.loads(line) for line in err.decode().splitlines() if line.startswith("{")]


async def _schema(dsn: str) -> tuple[list, list]:
    conn = await asyncpg.connect(dsn)
    try:
        columns = [tuple(r) for r in await conn.fetch(SCHEMA_SQL)]
        versions = sorted(r[0] for r in await conn.fetch("SELECT version_num FROM alembic_version"))
        return columns, versions
    finally:
        await conn.close()


async def test_lana_migrate_is_idempotent(pg_server):
    name = f"m_{uuid.uuid4().hex[:12]}"
    pg_server.create_database(name)  # empty: no migrations yet
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=_bin("temporal"), dev_server_log_level="error",
    )  # no search attributes registered
    try:
        target = env.client.service_client.config.target_host
        settings = {
            "LANA_ENVIRONMENT": "production",  # JSON log lines we can read
            "LANA_DATABASE_URL": pg_server.url(name),
            "LANA_TEMPORAL_ADDRESS": target,
            "LANA_TEMPORAL_NAMESPACE": "default",
        }
        first = await _lana_migrate(settings)
        after_first = await _schema(pg_server.dsn(name))
        second = await _lana_migrate(settings)
        after_second = await _schema(pg_server.dsn(name))

        expected = sorted(k.name for k in ALL_KEYS)
        registered = [e for e in first if e["event"] == "search attributes registered"]
        assert registered and registered[0]["added"] == expected
        again = [e for e in second if e["event"] == "search attributes registered"]
        assert again and again[0]["added"] == []

        columns, versions = after_first
        assert {"events", "api_idempotency"} <= {c[0] for c in columns}
        script = ScriptDirectory.from_config(alembic_config(pg_server.url(name)))
        heads = script.get_heads()
        # Every module's head is applied: listed, or an ancestor (a depends_on) of a listed revision.
        covered = {r.revision for v in versions for r in script.iterate_revisions(v, "base")}
        assert set(versions) <= set(heads) and set(heads) <= covered
        assert after_second == after_first  # the second run changed nothing

        attrs = await env.client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace="default"))
        types = {k.name: int(k.indexed_value_type) for k in ALL_KEYS}  # keywords, and the liquidation amounts (int)
        for key in expected:
            assert attrs.custom_attributes[key] == types[key]
        assert attrs.custom_attributes["LanaStatus"] == IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
        assert attrs.custom_attributes["LanaLiquidationExpectedCents"] == IndexedValueType.INDEXED_VALUE_TYPE_INT
    finally:
        await env.shutdown()
