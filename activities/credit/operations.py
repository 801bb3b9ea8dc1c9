"""The credit facility's steps. Each is ONE transaction: load the aggregate (its row locked), let
the domain decide and record, then persist events + read model + ledger postings together.

Activation also starts the first accrual cycle (the end-of-day steps, ``end_of_day.py``, do the rest).

Idempotency keys: ``facility:{id}:create``, ``collateral:{id}:{seq}``, ``facility:{id}:activate``,
``facility:{id}:structuring-fee``, ``disbursal:{id}:initial|initiate|settle|cancel`` (a refused
settlement is rolled back to its savepoint and the disbursal ends ``Failed`` + ``cancel``). A retried step
finds its predicate False (already applied) and returns the stored state; a repeated posting would
replay the original anyway. Every step returns the facility's ``FacilityState``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from activities import ledger
from activities.accounting.fiscal_years import first_open_date
from activities.audit import record_system_action
from activities.credit import collateralization, lifecycle_store, store
from activities.credit import facility_accounts as fa
from activities.credit.deposit_link import deposit_ledger_account, ensure_disbursable
from activities.custody import wallet_sync
from activities.customers.repository import ensure_customer_verified
from activities.price.store import current_price, latest_price
from domain.credit.disbursal import Disbursal
from domain.credit.errors import DisbursalAmountTooLarge
from domain.credit.facility import CreditFacility
from domain.credit.messages import (
    ActivateInput,
    CollateralInput,
    ConcludeDisbursal,
    ConcludeProposal,
    CustomerDecisionInput,
    DisbursalInput,
    FacilityState,
    ReevaluateInput,
)
from domain.credit.terms import TermValues, validate_term_values
from domain.custody.wallet import effective_date
from domain.errors import LanaError
from domain.ledger.errors import InsufficientBalance

PAGE_SIZE = 500
# _HOT_LAST: a posting on an omnibus account (facility, collateral) locks a balance row that every
# facility's step shares, until the commit. Steps post those last, after their events, read model
# and audit rows, so the row is held for the posting and the commit only, not for the round trips
# before it (which queue behind a busy event loop).


async def fresh_price(conn: AsyncConnection, max_age: timedelta) -> int:
    """The BTC price a command decides with. A stale or missing price refuses the command (503,
    nothing recorded; the operator repeats it): ``StalePrice``/``NoPrice`` are not transient."""
    return (await current_price(conn, datetime.now(UTC), max_age)).usd_cents_per_btc


async def _audit(conn: AsyncConnection, object_: str, action: str, workflow_id: str | None) -> None:
    """Audit a system action of the facility workflow, inside the step's own transaction."""
    await record_system_action(conn, object_, action, subject="system:credit", workflow_id=workflow_id)


def _draw_params(f: CreditFacility, amount: int) -> dict:
    return {"facility_account_id": f.accounts["facility"],
            "uncovered_outstanding_account_id": f.accounts["uncovered_outstanding"], "amount": amount}


def _settle_params(f: CreditFacility, amount: int) -> dict:
    return {**_draw_params(f, amount), "disbursed_receivable_account_id": f.accounts["disbursed_receivable_not_yet_due"],
            "deposit_account_id": f.state.deposit_account_id}


async def _facility_posting(conn: AsyncConnection, code: str, f: CreditFacility, step: str, today: date) -> None:
    await ledger.post(conn, code, {"facility_omnibus_account_id": f.accounts["facility_omnibus"],
                                   "facility_account_id": f.accounts["facility"], "amount": f.state.amount_cents},
                      idempotency_key=f"facility:{f.id}:{step}", effective=today)


async def create_proposal(conn: AsyncConnection, facility_id: str, customer_id: str, amount_cents: int,
                          terms: TermValues, custodian_id: str | None, actor: str, *, kyc_required: bool):
    """Write a new proposal (row + ``proposal_created``); a repeat finds the stored one. Returns the
    stored state (to start its workflow from) and the row (to answer with)."""
    validate_term_values(terms)
    if await store.find_facility_row(conn, facility_id) is None:
        customer = await ensure_customer_verified(conn, customer_id, kyc_required=kyc_required)
        deposit = await deposit_ledger_account(conn, customer_id)
        await store.insert_proposal(conn, CreditFacility.propose(
            facility_id, customer_id, customer.customer_type, amount_cents, terms, str(deposit), custodian_id, actor))
    f, row = await store.load_facility_and_row(conn, facility_id, lock=False)  # the row: every facilities column
    return f.state, row


async def conclude_customer_approval(conn: AsyncConnection, inp: CustomerDecisionInput) -> FacilityState:
    """The customer's decision (§4.2): an event on the facility's stream, nothing posted. Accepted,
    the workflow then asks governance; rejected, the proposal ends ``CustomerDenied``. A retried step
    (same decision stored) returns the stored state; any other decision is refused."""
    f = await store.load_facility(conn, inp.facility_id)
    if f.conclude_customer_approval(inp.approved, inp.actor):
        await store.save_facility(conn, f)
    return f.state


async def conclude_proposal(conn: AsyncConnection, inp: ConcludeProposal, workflow_id: str | None,
                            today: date | None = None) -> FacilityState:
    """Approved: the pending facility's accounts and the off-balance commitment; denied: the end.
    ``today``: the business date its posting is effective on (default: the date of ``inp.now``)."""
    f = await store.load_facility(conn, inp.facility_id)
    if not f.check_conclude_proposal():
        return f.state
    await _audit(conn, f"credit/credit-facility/{f.id}", "credit:credit-facility:conclude-approval-process", workflow_id)
    accounts = None
    if inp.approved:
        s = f.state
        accounts = await fa.create_pending_accounts(conn, s.id, s.collateral_id, s.customer_type, s.terms)
    f.conclude_proposal(inp.approved, accounts)
    await store.save_facility(conn, f)
    if inp.approved:  # last: the omnibus row it locks is every facility's (see _HOT_LAST)
        await _facility_posting(conn, "CREATE_CREDIT_FACILITY_PROPOSAL", f, "create", today or inp.now.date())
    return f.state


async def record_collateral(conn: AsyncConnection, inp: CollateralInput, max_age: timedelta,
                            today: date | None = None) -> FacilityState:
    """Post the collateral difference, record the update and the CVL at a fresh price. Without an
    effective date the change is dated ``today`` (the business date). With ``custody_wallet_id``
    the custody path (below); an operator's update of custodian-managed collateral is refused."""
    f = await store.load_facility(conn, inp.facility_id)
    if inp.custody_wallet_id is not None:
        return await _record_custody_collateral(conn, f, inp, max_age, today)
    # refused for custodian-managed collateral (``custody_managed`` is read with the locked row)
    if not f.check_manual_collateral_update(inp.collateral_sats, inp.seq):
        return f.state  # already applied (retried activity)
    price = await fresh_price(conn, max_age)
    change = f.update_collateral(inp.seq, inp.collateral_sats, inp.effective, inp.now, inp.actor, today=today)
    f.reevaluate(price, reason="collateral")  # the same amount again still re-evaluates (and may activate)
    return await _save_collateral(conn, f, change, inp)


async def _record_custody_collateral(conn: AsyncConnection, f: CreditFacility, inp: CollateralInput,
                                     max_age: timedelta, today: date | None) -> FacilityState:
    """The custody path (custody-price-reports.md §1.7 steps 7–8, spec rule): the wallet's latest
    balance, read under the facility's lock (a late or repeated signal finds it already applied),
    dated the UTC date of its change, initiated by ``inp.actor`` (``system:custodian-sync``). A
    released wallet (completed facility) moves nothing. A stale price does not hold the custodian's
    fact back: the CVL is then re-evaluated by the next price event."""
    wallet = await wallet_sync.lock_facility_wallet(conn, f.id)
    if (wallet is None or str(wallet.id) != inp.custody_wallet_id or wallet.released_at is not None
            or wallet.balance_sats is None):
        return f.state
    if not f.check_collateral_update(wallet.balance_sats, inp.seq) or wallet.balance_sats == f.state.collateral_sats:
        return f.state
    change = f.update_collateral(inp.seq, wallet.balance_sats, effective_date(wallet.balance_changed_at), inp.now,
                                 inp.actor, today=today)
    try:
        price = await fresh_price(conn, max_age)
    except LanaError as exc:
        if exc.transient:
            raise
    else:
        f.reevaluate(price, reason="collateral")
    return await _save_collateral(conn, f, change, inp)


async def _save_collateral(conn: AsyncConnection, f: CreditFacility, change, inp: CollateralInput) -> FacilityState:
    await store.save_facility(conn, f)
    if change is not None:  # last: the collateral omnibus row it locks is every facility's (_HOT_LAST)
        tx = await ledger.post(conn, "ADD_COLLATERAL" if change.direction == "add" else "REMOVE_COLLATERAL", {
            "collateral_omnibus_account_id": f.accounts["collateral_omnibus"],
            "collateral_account_id": f.accounts["collateral"], "amount": change.amount},
            idempotency_key=f"collateral:{f.id}:{inp.seq}", effective=change.effective)
        await store.insert_collateral_update(conn, f, change, str(tx.id), inp.actor)
    return f.state


async def activate(conn: AsyncConnection, inp: ActivateInput, max_age: timedelta,
                   workflow_id: str | None, today: date | None = None) -> FacilityState:
    """§4.4 on the collateral balance in the ledger and a fresh price (the domain decides), dated
    ``today``: the business date (default: the date of ``inp.now``)."""
    today = today or inp.now.date()
    f = await store.load_facility(conn, inp.facility_id)
    if not f.check_activate():
        return f.state
    price = await fresh_price(conn, max_age)
    collateral = (await ledger.balance(conn, uuid.UUID(f.accounts["collateral"]), "BTC")).settled
    f.reevaluate(price, reason="activation")  # the pending state at this price (a price change may be why we are here)
    activation = f.activate(inp.now, collateral, price, today=today)
    if activation is None:
        # a changed pending state, and the trigger prices either way (a stale one, e.g. from before
        # migration 0052, would otherwise have every price event signal this facility again)
        await store.save_collateralization(conn, f)
        return f.state
    s = f.state
    f.attach_accounts(await fa.create_active_accounts(conn, s.id, s.customer_type, s.terms))
    if activation.first_cycle is not None:
        await lifecycle_store.insert_cycles(conn, [activation.first_cycle])
    await _audit(conn, f"credit/credit-facility/{f.id}", "credit:credit-facility:activate", workflow_id)
    if (d := activation.initial_disbursal) is not None:
        await store.insert_disbursal(conn, d, f.due_dates())
        await store.insert_obligation(conn, activation.obligation)
    await store.save_facility(conn, f)
    # The postings last, in their order (each draws on the one before): from the facility omnibus
    # row's lock (every facility's) to the commit, only them (see _HOT_LAST). Three ``ledger_post``
    # calls, not one ``post_many``: for so few, the batch function costs more (2.5 against 2.0 ms
    # per transaction, docs/performance.md, 2026-12-02 evening).
    await _facility_posting(conn, "ACTIVATE_CREDIT_FACILITY", f, "activate", today)
    if d is not None:
        await ledger.post(conn, "INITIAL_DISBURSAL", _settle_params(f, d.amount_cents),
                          idempotency_key=f"disbursal:{d.id}:initial", effective=today)
    if activation.fee_cents:
        await ledger.post(conn, "ADD_STRUCTURING_FEE", {
            "deposit_account_id": s.deposit_account_id, "fee_income_account_id": f.accounts["fee_income"],
            "amount": activation.fee_cents}, idempotency_key=f"facility:{f.id}:structuring-fee", effective=today)
    return f.state


async def initiate_disbursal(conn: AsyncConnection, inp: DisbursalInput, max_age: timedelta, *,
                             kyc_required: bool, today: date | None = None) -> FacilityState:
    """Reserve the amount on the facility (the FAC account's settled ≥ 0 control is the limit),
    for an eligible customer (KYC verified, deposit account active), else refused, nothing written."""
    f = await store.load_facility(conn, inp.facility_id)
    if (await store.disbursal_exists(conn, inp.disbursal_id)
            or not f.check_disbursal(inp.amount_cents, today or inp.now.date(), inp.disbursal_id)):
        return f.state
    await ensure_customer_verified(conn, f.state.customer_id, kyc_required=kyc_required)
    await ensure_disbursable(conn, f.state.deposit_account_id)
    price = await fresh_price(conn, max_age)
    uncovered = (await ledger.balance(conn, uuid.UUID(f.accounts["uncovered_outstanding"]), "USD")).settled
    d = f.initiate_disbursal(inp.disbursal_id, inp.amount_cents, inp.actor, inp.now, uncovered, price, today=today)
    try:
        await ledger.post(conn, "INITIATE_CREDIT_FACILITY_DISBURSAL", _draw_params(f, inp.amount_cents),
                          idempotency_key=f"disbursal:{inp.disbursal_id}:initiate", effective=today or inp.now.date())
    except InsufficientBalance as exc:
        raise DisbursalAmountTooLarge("The disbursal exceeds the facility's remaining amount.",
                                      field="amount") from exc
    await store.insert_disbursal(conn, d, f.due_dates())
    await store.save_facility(conn, f)
    return f.state


async def conclude_disbursal(conn: AsyncConnection, inp: ConcludeDisbursal, max_age: timedelta,
                             workflow_id: str | None, today: date | None = None) -> FacilityState:
    """Approved: CONFIRM_DISBURSAL (deposit account credited) + the principal obligation; denied:
    CANCEL_DISBURSAL releases the reservation. A refused settlement (the deposit account frozen or
    closed meanwhile, …) ends the disbursal ``Failed`` in this same transaction: the refusal's code
    and reason recorded, the reservation released, audited; the step itself succeeds, so the
    workflow's conclusion never dies on it. Postings take the first open date (``effective``)."""
    f = await store.load_facility(conn, inp.facility_id)
    d = await store.lock_disbursal(conn, inp.disbursal_id)
    if not d.check_conclude():
        return f.state
    effective = await first_open_date(conn, today or inp.now.date())
    refusal = await _settle(conn, f, d, effective) if inp.approved else None
    audited = f"credit/disbursal/{d.id}"
    if inp.approved and refusal is None:
        await _audit(conn, audited, "credit:disbursal:settle", workflow_id)
        await store.insert_obligation(conn, f.conclude_disbursal(d, True, effective))
        await _reevaluate_if_priced(conn, f, max_age)
    else:
        if refusal is None:
            await _audit(conn, audited, "credit:credit-facility:conclude-approval-process", workflow_id)
            f.conclude_disbursal(d, False, effective)
        else:
            await _audit(conn, audited, "credit:disbursal:fail-settlement", workflow_id)
            f.fail_disbursal(d, refusal.code, refusal.detail)
        await ledger.post(conn, "CANCEL_DISBURSAL", _draw_params(f, d.amount_cents),
                          idempotency_key=f"disbursal:{d.id}:cancel", effective=effective)
    await store.save_disbursal(conn, d)
    await store.save_facility(conn, f)
    return f.state


async def _settle(conn: AsyncConnection, f: CreditFacility, d: Disbursal, effective: date) -> LanaError | None:
    """Post CONFIRM_DISBURSAL in a savepoint; the refusal when the ledger refuses it (a transient
    error is raised, so the step is retried as a whole). Not ``post_many`` (each item all-or-nothing
    without a savepoint): for one posting its batch function costs more than the savepoint's two
    round trips (2.0 against 1.3 ms per transaction, docs/performance.md, 2026-12-02 evening)."""
    try:
        async with conn.begin_nested():
            await ledger.post(conn, "CONFIRM_DISBURSAL", _settle_params(f, d.amount_cents),
                              idempotency_key=f"disbursal:{d.id}:settle", effective=effective)
    except LanaError as exc:
        if exc.transient:
            raise
        return exc
    return None


async def _reevaluate_if_priced(conn: AsyncConnection, f: CreditFacility, max_age: timedelta) -> None:
    """An obligation was created (§3.6; the settled principal is already in ``outstanding_cents``):
    re-evaluate at a fresh price; a stale price skips it (settling must not fail on the price; the
    stored trigger prices are the new ones, so the next price event catches up)."""
    try:
        price = await fresh_price(conn, max_age)
    except LanaError:
        return
    f.reevaluate(price, reason="obligation")


async def recompute_collateralization(conn: AsyncConnection, facility_id: str, now: datetime, *,
                                      reason: str = "payment") -> FacilityState:
    """THE entry point after anything that moves a facility's total outstanding outside its own
    steps (a payment allocation, a liquidation's proceeds): in the caller's transaction, after its
    ledger postings and after it saved the facility, lock the row, read the total outstanding from
    the ledger (credit.md §13: principal and posted interest, not defaulted, not accrued-unposted),
    re-evaluate at the latest recorded price (stale or not: this records where the loan stands, it
    decides no command) with the hysteresis of §3.4, and store the outstanding, the trigger prices
    and, only when the state changes, ``collateralization_changed`` + a history row. Idempotent: a
    second call finds nothing to change. A pending, closed or denied facility is left as it is.
    ``now`` is the caller's clock (kept for the signature's stability; the row's times are the
    database's)."""
    del now
    f = await store.load_facility(conn, facility_id)
    if not f.check_reevaluate():
        return f.state
    outstanding = (await store.facility_balance(conn, f.accounts)).total_outstanding
    price = await latest_price(conn)
    f.recompute(outstanding, price.usd_cents_per_btc if price else None, reason=reason)
    await store.save_collateralization(conn, f)
    return f.state


async def reevaluate_collateralization(conn: AsyncConnection, inp: ReevaluateInput) -> FacilityState:
    """After a price change (see ``activity.CollateralizationActivities``): the same rule as the
    batch pass, on the locked row; idempotent, and a late signal uses the price in force."""
    f = await store.load_facility(conn, inp.facility_id)
    if not f.check_reevaluate():
        return f.state
    price = inp.usd_cents_per_btc
    latest = await latest_price(conn)
    if latest is not None and latest.changed_at > inp.observed_at:
        price = latest.usd_cents_per_btc  # overtaken by a later change: the price in force wins
    stored = f.state.model_copy(deep=True)
    if not f.reevaluate(price, observed_at=inp.observed_at, reason="price"):
        return stored  # nothing crosses: no event, no write
    await store.save_facility(conn, f)
    return f.state


async def crossing_ids(conn: AsyncConnection, price_cents: int, *, page_size: int = PAGE_SIZE) -> list[str]:
    """Ids of the facilities whose state changes at ``price_cents`` (a dry run of the price pass,
    ``activities/credit/collateralization.py``): active ones whose collateralization state changes,
    pending ones that become fully collateralized (they activate). Read from the trigger-price
    indexes, in pages; nothing is written."""
    return await collateralization.crossing_ids(conn, price_cents, page_size=page_size)
