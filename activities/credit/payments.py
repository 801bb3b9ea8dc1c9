"""Payments and completion (credit.md §8, §10): each step is ONE transaction, so a payment and its
allocations are recorded together or not at all (a worker that dies mid-step leaves nothing; the
retried attempt does it all once).

``record_payment``: under the facility's row lock (payments on one facility are serialised there),
a payment id already stored is answered as it was (nothing posted again). Otherwise the rules
(facility open, amount, effective date between the activation and the business date, deposit
account active, at most the uncovered outstanding), then the allocation (``domain.credit.allocation``,
the strategy of the facility's terms) over the locked open obligations, then the rows and events,
and last, in one round trip, RECORD_PAYMENT (key ``payment:{id}:record``, transaction id = the
payment's) and one RECORD_PAYMENT_ALLOCATION per share (key ``obligation-{obligation_id}-idx-{n}``,
transaction id = the allocation's); then the collateralization recomputed from the ledger as posted
(``operations.recompute_collateralization``: total outstanding, state with hysteresis, triggers). The deposit account's overdraft
control refuses a payment it cannot cover (``credit.insufficient_deposit_balance``). With
``credit_close_when_paid`` a payment that leaves nothing outstanding completes the facility in the
same transaction.

``complete_facility``: nothing outstanding in the ledger (§13 figures, accrued interest and
disbursals awaiting approval included), else refused naming each amount; the collateral is
released (REMOVE_COLLATERAL, key ``collateral:{id}:{seq}``, as a manual update to 0), the
collateralization becomes ``NoCollateral``, the status ``Closed``.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from activities import ledger
from activities.audit import record_system_action
from activities.credit import facility_accounts as fa
from activities.credit import lifecycle_store as ls
from activities.credit import payment_store, store
from activities.credit.deposit_link import ensure_disbursable
from activities.credit.operations import recompute_collateralization
from activities.custody import wallet_sync
from activities.time import clock
from domain.credit.allocation import allocate
from domain.credit.errors import DepositAccountNotActive, InsufficientDepositBalance
from domain.credit.facility import CreditFacility, outstanding_parts
from domain.credit.messages import (
    CUSTODIAN_SYNC_ACTOR,
    CompleteInput,
    FacilityState,
    PaymentInput,
    PaymentOutcome,
)
from domain.credit.payment import Payment, check_not_over_outstanding, check_payment_effective
from domain.ledger.errors import AccountLocked, InsufficientBalance
from ground.settings import Settings


async def business_date(conn: AsyncConnection, settings: Settings, now: datetime) -> date:
    """Today's business date (``clock.business_now``): the simulated clock's on a simulated clock."""
    return (await clock.business_now(conn, settings, now))[1]


async def _stored_outcome(conn: AsyncConnection, row, state: FacilityState) -> PaymentOutcome:
    allocations = (await payment_store.allocation_rows(conn, [str(row.id)]))[str(row.id)]
    return PaymentOutcome(payment_id=str(row.id), facility_id=str(row.facility_id), amount_cents=row.amount_cents,
                          effective=row.effective, replayed=True, state=state,
                          allocations=[payment_store.allocation_info(r) for r in allocations])


async def record_payment(conn: AsyncConnection, inp: PaymentInput, *, settings: Settings,
                         workflow_id: str | None = None, source_account_id: str | None = None) -> PaymentOutcome:
    """``source_account_id``: where the money comes from when it is not the customer's deposit
    account (a liquidation's proceeds account, credit.md §9.3): the deposit account is not checked."""
    f = await store.load_facility(conn, inp.facility_id)
    found = await payment_store.payment_row(conn, inp.payment_id)
    if found is not None:
        return await _stored_outcome(conn, found, f.state)
    f.check_payment(inp.amount_cents)
    s = f.state
    today = await business_date(conn, settings, inp.now)
    effective = inp.effective or today
    check_payment_effective(effective, s.activated_at.date() if s.activated_at else None, today)
    source = source_account_id or s.deposit_account_id
    if source_account_id is None:
        await ensure_disbursable(conn, s.deposit_account_id)  # frozen or closed: refused (same rule as a disbursal)
    f.attach_accounts(await fa.ensure_active_accounts(conn, f.id, s.customer_type, s.terms, f.accounts))
    acc = f.accounts
    uncovered = (await ledger.balance(conn, uuid.UUID(acc["uncovered_outstanding"]), "USD")).settled
    check_not_over_outstanding(inp.amount_cents, uncovered)

    owed = await payment_store.open_obligations(conn, f.id)
    by_id = {o.id: o for o in owed}
    shares = allocate(inp.amount_cents, [o.owed() for o in owed], s.terms.payment_allocation_strategy)
    allocations = [by_id[sh.obligation.obligation_id].allocate(inp.payment_id, sh.amount_cents, effective)
                   for sh in shares]
    payment = Payment.receive(inp.payment_id, f.id, inp.amount_cents, effective, source, inp.actor)
    payment.allocated(allocations)
    f.payment_recorded(inp.payment_id, inp.amount_cents, effective, allocations, inp.actor)

    hold, receivables = acc["payment_holding"], [acc[a.receivable_role] for a in allocations]
    await payment_store.insert_payment(conn, payment, [(a, account) for a, account in zip(allocations, receivables,
                                                                                          strict=True)])
    await ls.save_obligations(conn, list(by_id.values()))
    await store.save_facility(conn, f)
    # The postings last (the payments-made omnibus row they lock is every facility's, see
    # operations._HOT_LAST); transaction ids as ledger.md B5.7: the payment's, each allocation's.
    postings = [ledger.Posting("RECORD_PAYMENT", {
        "payment_source_account_id": source, "payment_holding_account_id": hold,
        "uncovered_outstanding_account_id": acc["uncovered_outstanding"],
        "payments_made_omnibus_account_id": acc["payments_made_omnibus"], "amount": inp.amount_cents},
        f"payment:{inp.payment_id}:record", effective, tx_id=uuid.UUID(payment.id))]
    postings += [ledger.Posting("RECORD_PAYMENT_ALLOCATION", {
        "payment_holding_account_id": hold, "receivable_account_id": account, "amount": a.amount_cents},
        a.idempotency_key, effective, tx_id=uuid.UUID(a.id)) for a, account in zip(allocations, receivables,
                                                                                  strict=True)]
    refused = next((r.error for r in await ledger.post_many(conn, postings) if r.status == "refused"), None)
    if isinstance(refused, InsufficientBalance):
        raise InsufficientDepositBalance(
            f"Deposit account {s.deposit_account_id} does not hold {inp.amount_cents} ¢.", field="amount",
            deposit_account_id=s.deposit_account_id) from refused
    if isinstance(refused, AccountLocked):  # frozen between the status read and the posting
        raise DepositAccountNotActive(f"Deposit account {s.deposit_account_id} is locked.",
                                      deposit_account_id=s.deposit_account_id) from refused
    if refused is not None:
        raise refused
    # §3.6: a payment allocation moves the total outstanding: the CVL, its state (hysteresis) and
    # the trigger prices follow, from the ledger as posted above, in this transaction
    state = await recompute_collateralization(conn, f.id, inp.now, reason="payment")
    if settings.credit_close_when_paid and uncovered == inp.amount_cents and not s.in_flight:
        f = await store.load_facility(conn, f.id)  # as the recompute left it
        balance = await store.facility_balance(conn, f.accounts)
        if not outstanding_parts(balance):
            await record_system_action(conn, f"credit/credit-facility/{f.id}", "credit:credit-facility:complete",
                                       subject="system:credit", workflow_id=workflow_id)
            await _complete(conn, f, balance, today, inp.now, "system:credit-close-when-paid")
            await store.save_facility(conn, f)
            state = f.state
    return PaymentOutcome(
        payment_id=payment.id, facility_id=f.id, amount_cents=payment.amount_cents, effective=effective,
        state=state, allocations=[payment_store.allocation_info_of(a, a.id) for a in allocations])


async def _complete(conn: AsyncConnection, f: CreditFacility, balance, effective: date, now: datetime,
                    actor: str) -> None:
    """One path for both completions. A custodian-managed facility releases its collateral through
    the custody path: the wallet is marked released (later notices move nothing) and the release
    is posted as ``system:custodian-sync`` (custody-price-reports.md §1.7, §6)."""
    if await wallet_sync.release_wallet(conn, f.id, now) is not None:
        actor = CUSTODIAN_SYNC_ACTOR
    change = f.complete(balance, effective, now, actor)
    if change is not None:
        tx = await ledger.post(conn, "REMOVE_COLLATERAL", {
            "collateral_omnibus_account_id": f.accounts["collateral_omnibus"],
            "collateral_account_id": f.accounts["collateral"], "amount": change.amount},
            idempotency_key=f"collateral:{f.id}:{change.seq}", effective=change.effective)
        await store.insert_collateral_update(conn, f, change, str(tx.id), actor)


async def complete_facility(conn: AsyncConnection, inp: CompleteInput, *, settings: Settings) -> FacilityState:
    f = await store.load_facility(conn, inp.facility_id)
    if not f.check_complete():
        return f.state  # already closed (a retried step)
    balance = await store.facility_balance(conn, f.accounts)
    await _complete(conn, f, balance, await business_date(conn, settings, inp.now), inp.now, inp.actor)
    await store.save_facility(conn, f)
    return f.state
