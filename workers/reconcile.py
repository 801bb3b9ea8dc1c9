"""Restart workflows whose start was lost.

The API writes an entity (a reserved withdrawal, a credit facility proposal) in one database
transaction and then starts its workflow. If the process dies or Temporal is unreachable between
the two, the entity waits with nothing to drive it (for a withdrawal: funds reserved forever). The
worker runs this sweep periodically: every such entity older than a grace period gets its workflow
started again. Starts use the entity's deterministic workflow id with USE_EXISTING, so a sweep that
races the API, or several workers sweeping at once, changes nothing.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from domain.errors import LanaError

log = structlog.get_logger(__name__)


async def _running(client: Client, workflow_id: str) -> bool:
    try:
        await client.get_workflow_handle(workflow_id).describe()
        return True
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return False
        raise


async def sweep(engine: AsyncEngine, client: Client, task_queue: str, *, grace: timedelta,
                window: timedelta = timedelta(hours=1)) -> int:
    """Start the missing workflows of entities created between ``grace + window`` and ``grace`` ago;
    return how many were started. The window bounds each sweep's work to recent entities (a sweep
    every minute looks at each one many times) instead of re-checking every open one forever."""
    from activities.credit.store import load_facility
    from activities.credit.tables import facilities
    from activities.deposits import store
    from domain.credit.status import Stage
    from domain.deposits.model import RESERVED
    from workflows.credit_facility import facility_workflow_id, start_facility_workflow
    from workflows.withdrawal import start_withdrawal_workflow, withdrawal_workflow_id

    cutoff = datetime.now(UTC) - grace
    since = cutoff - window
    started = 0
    async with engine.connect() as conn:
        w, a = store.withdrawals, store.deposit_accounts
        withdrawals = (await conn.execute(
            select(w, a.c.holder_id).join(a, a.c.id == w.c.deposit_account_id)
            .where(w.c.status.in_([s.value for s in RESERVED]), w.c.created_at < cutoff, w.c.created_at >= since))).all()
        proposals = (await conn.execute(select(facilities.c.id).where(
            facilities.c.stage == Stage.PROPOSAL.value, facilities.c.created_at < cutoff,
            facilities.c.created_at >= since))).all()
        for row in withdrawals:
            if not await _running(client, withdrawal_workflow_id(str(row.id))):
                await start_withdrawal_workflow(client, task_queue, row, str(row.holder_id))
                log.warning("restarted a lost withdrawal workflow", withdrawal_id=str(row.id))
                started += 1
        for row in proposals:
            if not await _running(client, facility_workflow_id(str(row.id))):
                facility = await load_facility(conn, str(row.id), lock=False)
                await start_facility_workflow(client, task_queue, facility.state)
                log.warning("restarted a lost credit facility workflow", facility_id=str(row.id))
                started += 1
    return started


async def run_forever(engine: AsyncEngine, client: Client, task_queue: str, *, every: float,
                      grace: timedelta) -> None:
    while True:
        try:
            await sweep(engine, client, task_queue, grace=grace)
        except (LanaError, RPCError, OSError) as exc:  # Temporal or the database briefly away: next round
            log.warning("workflow start sweep failed", error=str(exc))
        await asyncio.sleep(every)
