"""Issue 18: a worker killed between a payment's posting and its allocation. The payment step is
one transaction (RECORD_PAYMENT, every RECORD_PAYMENT_ALLOCATION, the rows and events): the worker
dies after the postings were sent and before the commit, nothing of it is visible, and a new
worker's attempt records the payment once. The facility's ledger is then the ledger of a facility
whose identical payment ran uninterrupted (entry by entry, account by role)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date

from sqlalchemy import text

from activities import ledger
from activities.credit import store
from activities.registry import Deps
from domain.credit.messages import PaymentCommand
from tests.harness import test_settings
from tests.integration.credit.eod_helpers import activated_facility, run_dates
from workers.worker import build_worker
from workflows.credit_facility import CreditFacilityWorkflow, start_facility_workflow

JAN15, JAN31 = date(2025, 1, 15), date(2025, 1, 31)
AMOUNT, DAILY = 1_000_000, 329  # $10,000 at 12 %: 329 ¢ a day, 17 days to the end of January
SINGLE = {"disbursal_policy": "SingleDisbursal", "one_time_fee_rate": "0"}
PAYMENT = 10_000  # the January interest (5,593 ¢) and 4,407 ¢ of principal


async def _ledger_of(engine, facility_id: str, deposit: uuid.UUID) -> list[tuple]:
    """Every entry of every transaction that touches one of the facility's own accounts, each
    account named by its role (so two facilities compare), sorted."""
    async with engine.connect() as conn:
        accounts = (await store.facility_row(conn, facility_id)).accounts
        roles = {uuid.UUID(a): role for role, a in accounts.items()} | {deposit: "deposit"}
        own = [uuid.UUID(a) for role, a in accounts.items() if "omnibus" not in role] + [deposit]
        rows = (await conn.execute(text(
            "SELECT t.template_code, t.effective, e.account_id, e.direction, e.layer, e.units,"
            " e.entry_type FROM ledger_transactions t JOIN ledger_entries e ON e.transaction_id = t.id"
            " WHERE t.id IN (SELECT transaction_id FROM ledger_entries WHERE account_id = ANY(:own))"
            ), {"own": own})).all()
    return sorted((r.template_code, str(r.effective), roles.get(r.account_id, "?"), r.direction, r.layer, r.units,
                   r.entry_type) for r in rows)


async def test_a_worker_killed_between_posting_and_allocation_leaves_the_ledger_of_an_uninterrupted_run(
        credit_stack, ts_env, db_url, monkeypatch):
    stack = credit_stack
    (crashed, dep_a), (smooth, dep_b) = [await activated_facility(stack, JAN15, AMOUNT, **SINGLE) for _ in range(2)]
    await run_dates(stack.engine, JAN15, JAN31)  # each: 17 accruals, the January interest obligation (due)

    queue = f"pay-crash-{uuid.uuid4().hex[:8]}"
    deps = Deps(engine=stack.engine, settings=test_settings(db_url))
    for fid in (crashed, smooth):
        async with stack.engine.connect() as conn:
            await start_facility_workflow(ts_env.client, queue, (await store.load_facility(conn, fid, lock=False)).state)
    handle = {fid: ts_env.client.get_workflow_handle(f"credit-facility-{fid}") for fid in (crashed, smooth)}
    pay = {fid: str(uuid.uuid4()) for fid in (crashed, smooth)}

    real, paused, release, seen = ledger.post_many, asyncio.Event(), asyncio.Event(), []

    async def gated(conn, postings, **kw):
        results = await real(conn, postings, **kw)
        if postings and postings[0].template_code == "RECORD_PAYMENT":
            # RECORD_PAYMENT and the allocations are posted in the step's transaction, not committed
            holder = str(postings[0].params["payment_source_account_id"])
            seen.append((holder, [p.template_code for p in postings], [r.status for r in results]))
            if holder == str(dep_a) and not release.is_set():
                paused.set()
                await release.wait()  # the worker dies here: its transaction never commits
        return results

    monkeypatch.setattr(ledger, "post_many", gated)
    with ts_env.auto_time_skipping_disabled():
        async with build_worker(ts_env.client, deps, queue, max_cached_workflows=0):
            first = await handle[smooth].execute_update(CreditFacilityWorkflow.record_payment, PaymentCommand(
                payment_id=pay[smooth], amount_cents=PAYMENT, actor="test"))
            interrupted = asyncio.create_task(handle[crashed].execute_update(
                CreditFacilityWorkflow.record_payment, PaymentCommand(
                    payment_id=pay[crashed], amount_cents=PAYMENT, actor="test")))
            await asyncio.wait_for(paused.wait(), 60)
            async with stack.engine.connect() as conn:  # from outside: nothing of the payment yet
                n = (await conn.execute(text("SELECT count(*) FROM ledger_transactions WHERE idempotency_key = :k"),
                                        {"k": f"payment:{pay[crashed]}:record"})).scalar_one()
            assert n == 0
        release.set()
        async with build_worker(ts_env.client, deps, queue, max_cached_workflows=0):
            second = await asyncio.wait_for(interrupted, 120)  # the next attempt, on the new worker

    assert [(a.obligation_type, a.amount_cents) for a in first.allocations] == [
        ("Interest", 17 * DAILY), ("Disbursal", PAYMENT - 17 * DAILY)]
    assert [(a.obligation_type, a.amount_cents, a.idx) for a in second.allocations] == [
        (a.obligation_type, a.amount_cents, a.idx) for a in first.allocations]
    posted = ["RECORD_PAYMENT", "RECORD_PAYMENT_ALLOCATION", "RECORD_PAYMENT_ALLOCATION"]
    # the crashed attempt's postings were rolled back with it: the next attempt posts them anew
    assert seen == [(str(d), posted, ["posted"] * 3) for d in (dep_b, dep_a, dep_a)], seen

    assert await _ledger_of(stack.engine, crashed, dep_a) == await _ledger_of(stack.engine, smooth, dep_b)
    async with stack.engine.connect() as conn:
        counts = (await conn.execute(text(
            "SELECT template_code, count(*) AS n FROM ledger_transactions WHERE template_code LIKE 'RECORD_PAYMENT%'"
            " GROUP BY 1"))).all()
        payments = (await conn.execute(text("SELECT count(*) FROM credit_payments"))).scalar_one()
    assert {r.template_code: r.n for r in counts} == {"RECORD_PAYMENT": 2, "RECORD_PAYMENT_ALLOCATION": 4}
    assert payments == 2
    for fid in (crashed, smooth):
        bal = (await stack.http.get(f"/api/v1/credit-facilities/{fid}/balance")).json()
        assert (bal["due_interest_outstanding"], bal["not_yet_due_disbursed_outstanding"]) == (
            0, AMOUNT - (PAYMENT - 17 * DAILY))
