"""In-process stack for tests: the real API app and a real worker, on real servers."""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.registry import Deps
from api.app import create_app
from workers.search_attributes import register
from workers.settings import Settings
from workers.worker import build_worker
from workflows.search_attributes import ALL_KEYS


def _bin(name: str) -> str:
    path = Path(sys.prefix, "bin", name)
    if not path.exists():
        raise RuntimeError(f"{name} not found in {path.parent}: install the project's test extras")
    return str(path)


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


async def operator_headers(settings: Settings, engine: AsyncEngine) -> dict[str, str]:
    """Default headers of ``Stack.http`` (and so of the API fuzz test): the one place to add the
    operator's bearer token once authentication lands."""
    return {}


def test_settings(db_url: str, **overrides) -> Settings:
    values = {
        "environment": "test",
        "database_url": db_url,
        "temporal_task_queue": f"tq-{uuid.uuid4().hex[:12]}",
        "log_json": False,
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class Stack:
    settings: Settings
    engine: AsyncEngine
    client: Client
    app: FastAPI
    http: httpx.AsyncClient
    worker: Worker

    @classmethod
    @asynccontextmanager
    async def start(cls, db_url: str, engine: AsyncEngine, client: Client, **overrides) -> AsyncIterator[Stack]:
        settings = test_settings(db_url, **overrides)
        app = create_app(settings, engine=engine, temporal_client=client)
        worker = build_worker(client, Deps(engine=engine, settings=settings), settings.temporal_task_queue)
        async with app.router.lifespan_context(app), worker:
            transport = httpx.ASGITransport(app=app)
            headers = await operator_headers(settings, engine)
            async with httpx.AsyncClient(transport=transport, base_url="http://lana.test", headers=headers) as http:
                yield cls(settings, engine, client, app, http, worker)
