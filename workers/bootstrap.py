"""First-start bootstrap for `lana dev`: idempotent steps run after migrations, before the API starts.

Modules append steps (e.g. load the default chart of accounts, create the bootstrap admin). Each
step must be safe to run on every start.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from ground.settings import Settings

BootstrapStep = Callable[[Settings], Awaitable[None]]



async def seed_access(settings: Settings) -> None:
    """Permission sets, predefined roles and the bootstrap admin (superuser role), idempotently."""
    from activities.access_store import ensure_user, seed
    from ground.db import create_engine

    engine = create_engine(settings.database_url, pool_size=1, max_overflow=0)
    try:
        async with engine.begin() as conn:
            await seed(conn)
            await ensure_user(conn, settings.bootstrap_admin_email, "superuser", actor="system:bootstrap")
    finally:
        await engine.dispose()


async def seed_accounting(settings: Settings) -> None:
    """The default chart of accounts and its base/module configs, on a fresh database only."""
    from activities.accounting.bootstrap import load_default_chart
    from ground.db import create_engine

    engine = create_engine(settings.database_url, pool_size=1, max_overflow=0)
    try:
        async with engine.begin() as conn:
            await load_default_chart(conn)
    finally:
        await engine.dispose()


async def seed_fiscal_years(settings: Settings) -> None:
    """Open the fiscal years from the inception date through the current one (fresh bank only)."""
    import datetime as dt

    from activities.accounting import fiscal_years
    from ground.db import create_engine

    today = dt.datetime.now(dt.UTC).date()
    inception = settings.accounting_inception_date or dt.date(today.year, 1, 1)
    engine = create_engine(settings.database_url, pool_size=1, max_overflow=0)
    try:
        async with engine.begin() as conn:
            await fiscal_years.open_from_inception(conn, inception, today)
    finally:
        await engine.dispose()


async def _schedules(settings: Settings) -> None:
    from workers.schedules import bootstrap_step

    await bootstrap_step(settings)


STEPS: list[BootstrapStep] = [seed_access, seed_accounting, seed_fiscal_years, _schedules]


def run_bootstrap(env: dict[str, str]) -> None:
    import os

    saved = dict(os.environ)
    os.environ.update(env)
    try:
        settings = Settings()
    finally:
        os.environ.clear()
        os.environ.update(saved)

    async def _all() -> None:
        from ground.temporal import connect
        from workers.search_attributes import register

        client = await connect(settings)
        await register(client, settings.temporal_namespace)
        for step in STEPS:
            await step(settings)

    asyncio.run(_all())
