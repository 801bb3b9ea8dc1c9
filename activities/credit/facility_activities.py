"""Activities of the ``CreditFacility`` workflow: each state change is one PostgreSQL transaction
(events + read model + ledger postings), idempotent by business identity.

Idempotency keys: ``facility:{id}:create``, ``collateral:{id}:{seq}``, ``facility:{id}:activate``,
``facility:{id}:structuring-fee``, ``disbursal:{id}:initial|initiate|settle|cancel``. A retried
activity finds its step already applied (row state / sequence) and returns the stored state.
Domain refusals (stale price, below margin, …) are non-retryable ``ApplicationError(type=code)``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import ledger
from activities.audit import record_system_action
from activities.credit import facility_accounts as fa
from activities.credit.facility_store import (
    DISBURSAL_ENTITY,
    load_state,
    record_collateralization,
    save_state,
)
from activities.credit.reevaluation import recompute
from activities.credit.tables import collateral_updates, disbursals, obligations
from activities.event_store import append
from activities.price.store import current_price
from domain.credit import cvl as cvlmod
from domain.credit.facility import (
    DisbursalAmountTooLarge,
    DisbursalNotFound,
    DisbursalStatus,
    FacilityState,
    FacilityStatus,
    PendingStatus,
    ProposalStatus,
    Stage,
    check_collateral_update,
    check_disbursal,
    check_disbursal_cvl,
    initial_disbursal_cents,
)
from domain.errors import LanaError
from domain.ledger.errors import InsufficientBalance
from ground.settings import Settings


class ConcludeProposal(BaseModel):
    facility_id: str
    approved: bool
    now: datetime


class CollateralInput(BaseModel):
    facility_id: str
    seq: int
    collateral_sats: int
    effective: date | None = None
    actor: str
    now: datetime


class ActivateInput(BaseModel):
    facility_id: str
    now: datetime


class DisbursalInput(BaseModel):
    facility_id: str
    disbursal_id: str
    amount_cents: int
    actor: str
    now: datetime


class ConcludeDisbursal(BaseModel):
    facility_id: str
    disbursal_id: str
    approved: bool
    now: datetime


def _refuse(exc: LanaError) -> ApplicationError:
    return ApplicationError(exc.detail, type=exc.code, non_retryable=True)


class CreditFacilityActivities:
    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        self.engine = engine
        self.max_age = timedelta(seconds=settings.price_max_age_seconds)

    async def _price(self, conn) -> int:
        return (await current_price(conn, datetime.now(UTC), self.max_age)).usd_cents_per_btc

    @activity.defn(name="credit.conclude_proposal")
    async def conclude_proposal(self, inp: ConcludeProposal) -> FacilityState:
        async with self.engine.begin() as conn:
            state, row = await load_state(conn, inp.facility_id)
            if state.proposal_status is not ProposalStatus.PENDING_APPROVAL:
                return state
            await _audit(conn, f"credit/credit-facility/{state.id}", "credit:credit-facility:conclude-approval-process")
            if not inp.approved:
                state.stage, state.proposal_status = Stage.DENIED, ProposalStatus.DENIED
                await save_state(conn, state, row.version, [("proposal_concluded", {"approved": False})])
                return state
            accounts = await fa.create_pending_accounts(conn, state.id, state.collateral_id, state.customer_type,
                                                        state.terms)
            await ledger.post(conn, "CREATE_CREDIT_FACILITY_PROPOSAL", {
                "facility_omnibus_account_id": accounts["facility_omnibus"],
                "facility_account_id": accounts["facility"], "amount": state.amount_cents},
                idempotency_key=f"facility:{state.id}:create", effective=inp.now.date())
            state.stage, state.proposal_status = Stage.PENDING, ProposalStatus.APPROVED
            state.pending_status = PendingStatus.PENDING_COLLATERALIZATION
            state.pending_collateralization = cvlmod.PendingCollateralizationState.NOT_YET_COLLATERALIZED
            await save_state(conn, state, row.version, [
                ("proposal_concluded", {"approved": True}),
                ("pending_facility_created", {"accounts": accounts})], accounts=accounts)
            return state

    @activity.defn(name="credit.record_collateral")
    async def record_collateral(self, inp: CollateralInput) -> FacilityState:
        try:
            async with self.engine.begin() as conn:
                state, row = await load_state(conn, inp.facility_id)
                if state.collateral_seq >= inp.seq:
                    return state  # already applied (retried activity)
                check_collateral_update(state, inp.collateral_sats)
                price = await self._price(conn)
                diff = inp.collateral_sats - state.collateral_sats
                if diff == 0:
                    return state
                accounts = row.accounts
                tx = await ledger.post(conn, "ADD_COLLATERAL" if diff > 0 else "REMOVE_COLLATERAL", {
                    "collateral_omnibus_account_id": accounts["collateral_omnibus"],
                    "collateral_account_id": accounts["collateral"], "amount": abs(diff)},
                    idempotency_key=f"collateral:{state.id}:{inp.seq}", effective=inp.effective or inp.now.date())
                update_row = {"previous_sats": state.collateral_sats, "new_sats": inp.collateral_sats,
                              "direction": "add" if diff > 0 else "remove",
                              "effective": inp.effective or inp.now.date()}
                await conn.execute(insert(collateral_updates).values(
                    facility_id=state.id, seq=inp.seq, collateral_id=state.collateral_id, ledger_tx_id=str(tx.id),
                    recorded_by=inp.actor, recorded_at=func.now(), **update_row))
                state.collateral_sats, state.collateral_seq = inp.collateral_sats, inp.seq
                events = [("collateral_updated", {**update_row, "seq": inp.seq, "effective": str(update_row["effective"]),
                                                  "actor": inp.actor})]
                events += await self._recompute(conn, state, price)
                await save_state(conn, state, row.version, events)
                return state
        except LanaError as exc:
            raise _refuse(exc) from exc

    async def _recompute(self, conn, state: FacilityState, price: int) -> list[tuple[str, dict]]:
        return await recompute(conn, state, price)

    @activity.defn(name="credit.activate")
    async def activate(self, inp: ActivateInput) -> FacilityState:
        """§4.4: re-read collateral and price; below the activation threshold nothing happens."""
        try:
            async with self.engine.begin() as conn:
                state, row = await load_state(conn, inp.facility_id)
                if state.stage is not Stage.PENDING:
                    return state
                price = await self._price(conn)
                accounts = dict(row.accounts)
                collateral = (await ledger.balance(conn, uuid.UUID(accounts["collateral"]), "BTC")).settled
                value = cvlmod.cvl(collateral, state.amount_cents, price)
                if value < cvlmod.activation_cvl_threshold(state.terms):
                    return state
                accounts.update(await fa.create_active_accounts(conn, state.id, state.customer_type, state.terms))
                await ledger.post(conn, "ACTIVATE_CREDIT_FACILITY", {
                    "facility_omnibus_account_id": accounts["facility_omnibus"],
                    "facility_account_id": accounts["facility"], "amount": state.amount_cents},
                    idempotency_key=f"facility:{state.id}:activate", effective=inp.now.date())
                await _audit(conn, f"credit/credit-facility/{state.id}", "credit:credit-facility:activate")
                state.stage, state.pending_status, state.status = Stage.ACTIVE, PendingStatus.COMPLETED, FacilityStatus.ACTIVE
                state.activated_at, state.maturity_date = inp.now, state.terms.maturity_date(inp.now)
                events: list[tuple[str, dict]] = [("pending_facility_completed", {}), ("facility_activated", {
                    "activated_at": inp.now.isoformat(), "maturity_date": str(state.maturity_date),
                    "cvl": str(value), "price_cents": price, "collateral_sats": collateral})]
                initial = initial_disbursal_cents(state.terms, state.amount_cents)
                if initial:
                    events += await self._initial_disbursal(conn, state, accounts, initial, inp.now)
                fee = state.terms.one_time_fee_cents(state.amount_cents)
                if fee:
                    await ledger.post(conn, "ADD_STRUCTURING_FEE", {
                        "deposit_account_id": state.deposit_account_id,
                        "fee_income_account_id": accounts["fee_income"], "amount": fee},
                        idempotency_key=f"facility:{state.id}:structuring-fee", effective=inp.now.date())
                    events.append(("structuring_fee_charged", {"amount_cents": fee}))
                new = cvlmod.state_for_cvl(value, state.terms)  # §4.4 step 4: CVL vs the facility amount
                state.collateralization, state.cvl, state.price_cents = new, str(value), price
                events.append(("collateralization_changed", await record_collateralization(
                    conn, state, state_value=new.value, cvl=str(value), outstanding_cents=state.amount_cents,
                    price_cents=price)))
                await save_state(conn, state, row.version, events, accounts=accounts)
                return state
        except LanaError as exc:
            raise _refuse(exc) from exc

    async def _initial_disbursal(self, conn, state: FacilityState, accounts: dict, amount: int,
                                 now: datetime) -> list[tuple[str, dict]]:
        disbursal_id = str(uuid.uuid5(uuid.UUID(state.id), "initial-disbursal"))
        await ledger.post(conn, "INITIAL_DISBURSAL", self._settle_params(state, accounts, amount),
                          idempotency_key=f"disbursal:{disbursal_id}:initial", effective=now.date())
        # pre-approved under the proposal's approval process (§0.4)
        await self._insert_disbursal(conn, state, disbursal_id, amount, DisbursalStatus.CONFIRMED, "system",
                                     is_initial=True, approval_process_id=state.id)
        await self._obligation(conn, state, disbursal_id, amount, now)
        state.drawn_cents += amount
        state.disbursed_cents += amount
        return [("initial_disbursal_settled", {"disbursal_id": disbursal_id, "amount_cents": amount})]

    @staticmethod
    def _settle_params(state: FacilityState, accounts: dict, amount: int) -> dict:
        return {"facility_account_id": accounts["facility"],
                "uncovered_outstanding_account_id": accounts["uncovered_outstanding"],
                "disbursed_receivable_account_id": accounts["disbursed_receivable_not_yet_due"],
                "deposit_account_id": state.deposit_account_id, "amount": amount}

    @staticmethod
    def _dates(state: FacilityState) -> dict:
        due, t = state.maturity_date, state.terms
        return {"due_date": due,
                "overdue_date": due + timedelta(days=t.obligation_overdue_duration_from_due.units)
                if t.obligation_overdue_duration_from_due else None,
                "liquidation_date": due + timedelta(days=t.obligation_liquidation_duration_from_due.units)
                if t.obligation_liquidation_duration_from_due else None}

    async def _insert_disbursal(self, conn, state: FacilityState, disbursal_id: str, amount: int,
                                status: DisbursalStatus, actor: str, *, is_initial: bool = False,
                                approval_process_id: str | None = None) -> None:
        await conn.execute(insert(disbursals).values(
            id=disbursal_id, facility_id=state.id, amount_cents=amount, status=status.value, is_initial=is_initial,
            approval_process_id=approval_process_id or disbursal_id,
            version=2 if status is DisbursalStatus.CONFIRMED else 1, created_by=actor,
            created_at=func.now(), concluded_at=func.now() if status is DisbursalStatus.CONFIRMED else None,
            **self._dates(state)))
        await append(conn, DISBURSAL_ENTITY, disbursal_id, 0, [("initiated", {
            "facility_id": state.id, "amount_cents": amount, "actor": actor, "is_initial": is_initial})]
            + ([("settled", {})] if status is DisbursalStatus.CONFIRMED else []))

    async def _obligation(self, conn, state: FacilityState, disbursal_id: str, amount: int, now: datetime) -> None:
        await conn.execute(insert(obligations).values(
            id=str(uuid.uuid5(uuid.UUID(disbursal_id), "obligation")), facility_id=state.id,
            disbursal_id=disbursal_id, obligation_type="Disbursal", amount_cents=amount, outstanding_cents=amount,
            status="NotYetDue", reference=f"disbursal-{disbursal_id}", effective=now.date(), created_at=func.now(),
            **self._dates(state)))

    @activity.defn(name="credit.initiate_disbursal")
    async def initiate_disbursal(self, inp: DisbursalInput) -> FacilityState:
        try:
            async with self.engine.begin() as conn:
                state, row = await load_state(conn, inp.facility_id)
                if inp.disbursal_id in state.in_flight or await self._disbursal_status(conn, inp.disbursal_id):
                    return state
                check_disbursal(state, inp.amount_cents, inp.now)
                price = await self._price(conn)
                accounts = row.accounts
                uncovered = (await ledger.balance(conn, uuid.UUID(accounts["uncovered_outstanding"]), "USD")).settled
                value = check_disbursal_cvl(state.terms, state.collateral_sats, uncovered, inp.amount_cents, price)
                try:
                    await ledger.post(conn, "INITIATE_CREDIT_FACILITY_DISBURSAL", {
                        "facility_account_id": accounts["facility"],
                        "uncovered_outstanding_account_id": accounts["uncovered_outstanding"],
                        "amount": inp.amount_cents},
                        idempotency_key=f"disbursal:{inp.disbursal_id}:initiate", effective=inp.now.date())
                except InsufficientBalance as exc:
                    raise DisbursalAmountTooLarge("The disbursal exceeds the facility's remaining amount.",
                                                  field="amount") from exc
                await self._insert_disbursal(conn, state, inp.disbursal_id, inp.amount_cents, DisbursalStatus.NEW,
                                             inp.actor)
                state.drawn_cents += inp.amount_cents
                state.in_flight[inp.disbursal_id] = inp.amount_cents
                state.disbursal_count += 1
                await save_state(conn, state, row.version, [("disbursal_initiated", {
                    "disbursal_id": inp.disbursal_id, "amount_cents": inp.amount_cents, "cvl_after": str(value),
                    "price_cents": price, "actor": inp.actor})])
                return state
        except LanaError as exc:
            raise _refuse(exc) from exc

    async def _disbursal_status(self, conn, disbursal_id: str) -> str | None:
        return (await conn.execute(select(disbursals.c.status).where(disbursals.c.id == disbursal_id))).scalar()

    @activity.defn(name="credit.conclude_disbursal")
    async def conclude_disbursal(self, inp: ConcludeDisbursal) -> FacilityState:
        async with self.engine.begin() as conn:
            state, row = await load_state(conn, inp.facility_id)
            d = (await conn.execute(select(disbursals).where(disbursals.c.id == inp.disbursal_id)
                                    .with_for_update())).first()
            if d is None:
                raise DisbursalNotFound(f"Disbursal {inp.disbursal_id} does not exist.")
            if d.status != DisbursalStatus.NEW.value:
                return state
            accounts, amount = row.accounts, d.amount_cents
            await _audit(conn, f"credit/disbursal/{d.id}",
                         "credit:disbursal:settle" if inp.approved else "credit:credit-facility:conclude-approval-process")
            if inp.approved:
                await ledger.post(conn, "CONFIRM_DISBURSAL", self._settle_params(state, accounts, amount),
                                  idempotency_key=f"disbursal:{d.id}:settle", effective=inp.now.date())
                await self._obligation(conn, state, str(d.id), amount, inp.now)
                status, event = DisbursalStatus.CONFIRMED, [("approved", {}), ("settled", {})]
                state.disbursed_cents += amount
            else:
                await ledger.post(conn, "CANCEL_DISBURSAL", {
                    "facility_account_id": accounts["facility"],
                    "uncovered_outstanding_account_id": accounts["uncovered_outstanding"], "amount": amount},
                    idempotency_key=f"disbursal:{d.id}:cancel", effective=inp.now.date())
                status, event = DisbursalStatus.DENIED, [("denied", {}), ("cancelled", {})]
                state.drawn_cents -= amount
            state.in_flight.pop(str(d.id), None)
            await conn.execute(update(disbursals).where(disbursals.c.id == d.id).values(
                status=status.value, version=d.version + len(event), concluded_at=func.now()))
            await append(conn, DISBURSAL_ENTITY, str(d.id), d.version, event)
            events = [("disbursal_concluded", {"disbursal_id": str(d.id), "status": status.value,
                                               "amount_cents": amount})]
            if inp.approved:
                events += await self._recompute_if_priced(conn, state)
            await save_state(conn, state, row.version, events)
            return state

    async def _recompute_if_priced(self, conn, state: FacilityState) -> list[tuple[str, dict]]:
        """An obligation was created (§3.6): recompute with a fresh price; a stale price skips it
        (settling must not fail on the price; the next collateral/price update catches up)."""
        try:
            price = await self._price(conn)
        except LanaError:
            return []
        return await self._recompute(conn, state, price)



async def _audit(conn, object_: str, action: str) -> None:
    """Audit a system action of the facility workflow, inside the activity's own transaction."""
    workflow_id = activity.info().workflow_id if activity.in_activity() else None
    await record_system_action(conn, object_, action, subject="system:credit", workflow_id=workflow_id)
