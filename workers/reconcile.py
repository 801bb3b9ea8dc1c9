"""Restart workflows whose start was lost.

The API writes an entity (a reserved withdrawal, a credit facility proposal, a stored custodian
notification) in one database
transaction and then starts its workflow. If the process dies or Temporal is unreachable between
the two, the entity waits with nothing to drive it (for a withdrawal: funds reserved forever).

Every such entity is in the ``workflow_starts`` outbox (migration 0012_workflow_starts): a trigger
adds the row in the entity's own insert transaction, so none is missed whatever its age or however
long an outage lasted. The worker runs this sweep periodically: it pages through the outbox by
``(created_at, entity_kind, entity_id)`` (rows younger than a grace period are left to the API),
and for each row starts the workflow unless it is found running or completed, then removes the
row. A row whose start fails stays for the next sweep. Starts use the entity's deterministic
workflow id with USE_EXISTING, so a sweep that races the API, or several workers sweeping at once,
changes nothing.

Counts: each sweep that did something logs ``workflow start sweep`` (checked, started, cleared,
failed), and ``STARTED`` counts the workflows this process started (docs/operations.md).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from domain.errors import LanaError

log = structlog.get_logger(__name__)

WITHDRAWAL, CREDIT_FACILITY, CUSTODY_NOTICE = "withdrawal", "credit_facility", "custody_notice"
PAGE_SIZE = 100
# Workflows started by this process's sweeps since it began, per entity kind (the sweep's metric).
STARTED: Counter[str] = Counter()
_DONE = (WorkflowExecutionStatus.RUNNING, WorkflowExecutionStatus.COMPLETED)


@dataclass
class SweepCounts:
    checked: Counter[str] = field(default_factory=Counter)
    started: Counter[str] = field(default_factory=Counter)
    cleared: Counter[str] = field(default_factory=Counter)  # had their workflow, or need none any more
    failed: Counter[str] = field(default_factory=Counter)  # start failed: the row stays for the next sweep


async def _has_workflow(client: Client, workflow_id: str) -> bool:
    """Running or completed: nothing to start. Failed, terminated, … may be started again."""
    try:
        desc = await client.get_workflow_handle(workflow_id).describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return desc.status in _DONE


async def _start_withdrawal(conn, client: Client, task_queue: str, entity_id: str, settings=None) -> bool | None:
    """True: started; False: its workflow exists; None: nothing to drive (no longer reserved)."""
    from activities.deposits import store
    from domain.deposits.model import RESERVED
    from workflows.withdrawal import start_withdrawal_workflow, withdrawal_workflow_id

    w, a = store.withdrawals, store.deposit_accounts
    row = (await conn.execute(w.select().add_columns(a.c.holder_id).join_from(w, a, a.c.id == w.c.deposit_account_id)
                              .where(w.c.id == entity_id))).first()
    if row is None or row.status not in {s.value for s in RESERVED}:
        return None
    if await _has_workflow(client, withdrawal_workflow_id(entity_id)):
        return False
    await start_withdrawal_workflow(client, task_queue, row, str(row.holder_id))
    return True


async def _start_facility(conn, client: Client, task_queue: str, entity_id: str, settings=None) -> bool | None:
    from activities.credit.store import load_facility
    from activities.credit.tables import facilities
    from domain.credit.status import Stage
    from workflows.credit_facility import facility_workflow_id, start_facility_workflow

    stage = (await conn.execute(facilities.select().with_only_columns(facilities.c.stage)
                                .where(facilities.c.id == entity_id))).scalar()
    if stage != Stage.PROPOSAL.value:
        return None
    if await _has_workflow(client, facility_workflow_id(entity_id)):
        return False
    facility = await load_facility(conn, entity_id, lock=False)
    await start_facility_workflow(client, task_queue, facility.state)
    return True


async def _start_custody_notice(conn, client: Client, task_queue: str, entity_id: str,
                                settings=None) -> bool | None:
    """A stored custodian notification still ``PENDING`` after the grace period is handed over again
    (to its wallet's workflow, or to the resolver when the wallet was unknown); harmless when it
    was not lost: the wallet workflow takes a notice once per run and applies the current balance."""
    from activities.custody import inbox, wallet_sync
    from ground.settings import get_settings
    from workflows.custody_wallet import CustodyNoticeWorkflow, notice_workflow_id

    row = await inbox.get(conn, entity_id)
    if row is None or row.status != "PENDING":
        return None
    settings = settings or get_settings()
    if row.wallet_id is None:
        if await _has_workflow(client, notice_workflow_id(entity_id)):
            return False
        from temporalio.common import WorkflowIDConflictPolicy

        from domain.custody.sync_messages import ResolveInput

        await client.start_workflow(
            CustodyNoticeWorkflow.run, ResolveInput(inbox_id=entity_id, provider=row.provider,
                                                    attempts=settings.custody_unknown_wallet_attempts),
            id=notice_workflow_id(entity_id), task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING)
        return True
    await wallet_sync.signal_wallet(client, task_queue, wallet_sync.notice_of(row, str(row.wallet_id)),
                                    settings.custody_wallet_idle_seconds)
    return True


_STARTERS = {WITHDRAWAL: _start_withdrawal, CREDIT_FACILITY: _start_facility, CUSTODY_NOTICE: _start_custody_notice}


async def _page(conn, cutoff: datetime, after: tuple | None) -> list:
    return (await conn.execute(text(
        "SELECT entity_kind, entity_id::text AS entity_id, created_at FROM workflow_starts"
        " WHERE created_at < :cutoff AND (CAST(:t AS timestamptz) IS NULL"
        "   OR (created_at, entity_kind, entity_id) > (CAST(:t AS timestamptz), :k, CAST(:i AS uuid)))"
        " ORDER BY created_at, entity_kind, entity_id LIMIT :n"),
        {"cutoff": cutoff, "t": after[0] if after else None, "k": after[1] if after else "",
         "i": after[2] if after else None, "n": PAGE_SIZE})).all()


async def sweep(engine: AsyncEngine, client: Client, task_queue: str, *, grace: timedelta,
                counts: SweepCounts | None = None, settings=None) -> int:
    """Start the missing workflow of every outbox entity older than ``grace``; return how many
    were started. A start that fails is logged and left for the next sweep."""
    counts = counts if counts is not None else SweepCounts()
    cutoff = datetime.now(UTC) - grace
    after = None
    while True:
        async with engine.connect() as conn:
            rows = await _page(conn, cutoff, after)
        for row in rows:
            counts.checked[row.entity_kind] += 1
            starter = _STARTERS.get(row.entity_kind)
            try:
                async with engine.connect() as conn:
                    outcome = await starter(conn, client, task_queue, row.entity_id, settings) if starter else None
            except (LanaError, RPCError, OSError) as exc:  # this one waits for the next sweep
                counts.failed[row.entity_kind] += 1
                log.warning("lost workflow start not restarted yet", entity_kind=row.entity_kind,
                            entity_id=row.entity_id, error=str(exc))
                continue
            if outcome:
                counts.started[row.entity_kind] += 1
                STARTED[row.entity_kind] += 1
                log.warning("restarted a lost workflow start", entity_kind=row.entity_kind, entity_id=row.entity_id,
                            created_at=row.created_at.isoformat())
            else:
                counts.cleared[row.entity_kind] += 1
            async with engine.begin() as conn:
                await conn.execute(text("DELETE FROM workflow_starts WHERE entity_kind = :k AND entity_id = :i"),
                                   {"k": row.entity_kind, "i": row.entity_id})
        if len(rows) < PAGE_SIZE:
            break
        last = rows[-1]
        after = (last.created_at, last.entity_kind, last.entity_id)
    started = sum(counts.started.values())
    if counts.checked:
        log.info("workflow start sweep", checked=sum(counts.checked.values()), started=started,
                 cleared=sum(counts.cleared.values()), failed=sum(counts.failed.values()), started_by_kind=dict(counts.started),
                 started_total=dict(STARTED))
    return started


async def run_forever(engine: AsyncEngine, client: Client, task_queue: str, *, every: float,
                      grace: timedelta, settings=None) -> None:
    while True:
        try:
            await sweep(engine, client, task_queue, grace=grace, settings=settings)
        except (LanaError, RPCError, OSError) as exc:  # Temporal or the database briefly away: next round
            log.warning("workflow start sweep failed", error=str(exc))
        await asyncio.sleep(every)
