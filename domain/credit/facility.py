"""The credit facility (credit.md §1, §4, §5) as an event-sourced aggregate: proposal → pending → active.

A proposal, its pending facility and the active facility share one id (§0.4) and one stream,
``credit_facility``. Each transition is a pair: ``check_x`` says go (True), already done (False: an
idempotent replay) or raises the refusal; ``x`` records the events, and ``apply`` folds them into
the ``FacilityState`` the workflow carries. Workflow validators run the predicates on the
workflow's copy before anything is recorded; activities run them again on the locked stored one.

The aggregate is loaded from its read-model row (the snapshot at the row's version), not by
replaying the stream: the CVL refreshed at a new price without a change of state is kept on the
snapshot only, and the proposal's customer type lives on the row.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from domain.credit import cvl as cvlmod
from domain.credit.accrual_cycle import AccrualCycle
from domain.credit.balance import FacilityBalanceSummary
from domain.credit.disbursal import Disbursal
from domain.credit.errors import (
    BelowMarginLimit,
    CollateralUpdateNotAllowed,
    CompletionNotAllowed,
    CustomerDecisionNotPending,
    DepositAccountNotActive,
    DisbursalAmountTooLarge,
    DisbursalOnInactiveFacility,
    DisbursalPastMaturityDate,
    FacilityHasOutstanding,
    InvalidCollateralAmount,
    InvalidDisbursalAmount,
    ManualUpdateWithCustodian,
    OnlyOneDisbursalAllowed,
    PaymentOnClosedFacility,
    PaymentOnInactiveFacility,
)
from domain.credit.messages import FacilityState
from domain.credit.obligation import Allocation, DueDates, Obligation
from domain.credit.payment import check_payment_amount
from domain.credit.status import DisbursalStatus, FacilityStatus, PendingStatus, ProposalStatus, Stage
from domain.credit.terms import TermValues
from domain.deposits.model import AccountStatus
from domain.events import EventSourced

MAX_SATS = 21_000_000 * 100_000_000


def check_disbursal_cvl(terms: TermValues, collateral_sats: int, outstanding_cents: int, amount_cents: int,
                        price_cents: int) -> Decimal:
    """§5.1 #6: ``CVL(collateral, outstanding + amount) >= margin_call_cvl``; returns that CVL."""
    value = cvlmod.cvl(collateral_sats, outstanding_cents + amount_cents, price_cents)
    if not terms.is_disbursal_allowed(value):
        raise BelowMarginLimit(
            f"CVL after the disbursal would be {value}, below the margin-call CVL {terms.margin_call_cvl}.",
            cvl=str(value), margin_call_cvl=str(terms.margin_call_cvl))
    return value


def ensure_deposit_account_active(account_id: str, status: str) -> None:
    """§4.1 / §5.1: a proposal or a disbursal needs an active deposit account to pay into; a frozen
    (KYC rejection, operator freeze) or closed one is refused."""
    if status != AccountStatus.ACTIVE.value:
        raise DepositAccountNotActive(f"Deposit account {account_id} is {status}; an active account is required.",
                                      deposit_account_id=account_id, deposit_account_status=status)


def initial_disbursal_cents(terms: TermValues, amount_cents: int) -> int:
    """§4.4 step 6 / §11: the full amount (single policy), the fee (multiple with a fee), else 0."""
    if terms.is_single_disbursal:
        return amount_cents
    return terms.one_time_fee_cents(amount_cents)


def outstanding_parts(b: FacilityBalanceSummary) -> dict[str, int]:
    """§10: what stops a completion, by name (zero parts left out): every principal and interest
    balance, defaulted included, and interest accrued in the current cycle but not yet posted."""
    parts = {"not_yet_due_disbursed_outstanding": b.not_yet_due_disbursed_outstanding,
             "due_disbursed_outstanding": b.due_disbursed_outstanding,
             "overdue_disbursed_outstanding": b.overdue_disbursed_outstanding,
             "disbursed_defaulted": b.disbursed_defaulted,
             "not_yet_due_interest_outstanding": b.not_yet_due_interest_outstanding,
             "due_interest_outstanding": b.due_interest_outstanding,
             "overdue_interest_outstanding": b.overdue_interest_outstanding,
             "interest_defaulted": b.interest_defaulted, "interest_accrued": b.interest_accrued}
    return {k: v for k, v in parts.items() if v}


def collateralization_payload(stage: str, state: str, value: Decimal, collateral_sats: int, outstanding_cents: int,
                              price_cents: int, reason: str, observed_at: datetime | None = None) -> dict[str, Any]:
    """The ``collateralization_changed`` event (§3.4: state, collateral, outstanding, price used),
    one shape for the facility's own steps and the set-based passes."""
    payload: dict[str, Any] = {"stage": stage, "state": state, "cvl": str(value), "collateral_sats": collateral_sats,
                               "outstanding_cents": outstanding_cents, "price_cents": price_cents, "reason": reason}
    if observed_at is not None:
        payload["price_observed_at"] = observed_at.isoformat()
    return payload


@dataclass(frozen=True)
class CollateralChange:
    """A recorded collateral update: the ledger moves ``amount`` sats in ``direction``."""

    seq: int
    previous_sats: int
    new_sats: int
    effective: date

    @property
    def amount(self) -> int:
        return abs(self.new_sats - self.previous_sats)

    @property
    def direction(self) -> str:
        return "add" if self.new_sats > self.previous_sats else "remove"


@dataclass(frozen=True)
class Activation:
    """What an activation decided, for the ledger: the initial disbursal (if any) and the fee."""

    cvl: Decimal
    initial_disbursal: Disbursal | None
    obligation: Obligation | None
    fee_cents: int
    first_cycle: AccrualCycle | None = None  # §4.4 step 5: interest accrues from the activation day


@dataclass
class CreditFacility(EventSourced):
    entity_type = "credit_facility"

    state: FacilityState = None  # type: ignore[assignment]  # always set by of() / propose()
    accounts: dict[str, str] = field(default_factory=dict)  # ledger account ids by role
    custodian_id: str | None = None
    created_by: str = ""

    @classmethod
    def of(cls, state: FacilityState, *, version: int = 0, accounts: dict[str, str] | None = None) -> CreditFacility:
        return cls(id=state.id, version=version, state=state, accounts=dict(accounts or {}))

    @classmethod
    def propose(cls, facility_id: str, customer_id: str, customer_type: str, amount_cents: int, terms: TermValues,
                deposit_account_id: str, custodian_id: str | None, actor: str) -> CreditFacility:
        collateral_id = str(uuid.uuid5(uuid.UUID(facility_id), "collateral"))
        status = (ProposalStatus.PENDING_CUSTOMER_APPROVAL if terms.customer_acceptance_required
                  else ProposalStatus.PENDING_APPROVAL)
        f = cls.of(FacilityState(id=facility_id, customer_id=customer_id, customer_type=customer_type,
                                 amount_cents=amount_cents, terms=terms, collateral_id=collateral_id,
                                 deposit_account_id=deposit_account_id, proposal_status=status,
                                 custodian_id=custodian_id))
        f.custodian_id, f.created_by = custodian_id, actor
        f.record("proposal_created", {
            "customer_id": customer_id, "amount_cents": amount_cents, "custodian_id": custodian_id,
            "terms": terms.model_dump(mode="json"), "collateral_id": collateral_id,
            "deposit_account_id": deposit_account_id, "actor": actor})
        return f

    def _refusal_detail(self) -> str:
        return f"Facility {self.id} is {self.state.status_label}."

    # -- proposal ------------------------------------------------------------------------------
    def check_customer_decision(self, approved: bool | None = None) -> bool:
        """§4.2, once only: True while the proposal awaits the customer; False when ``approved`` is
        the decision already recorded (a retried step); otherwise refused (a second decision, terms
        without the step, a concluded proposal)."""
        s = self.state
        if s.proposal_status is ProposalStatus.PENDING_CUSTOMER_APPROVAL:
            return True
        if approved is not None and s.customer_accepted is approved:
            return False
        raise CustomerDecisionNotPending(f"{self._refusal_detail()} It is not awaiting the customer's decision.",
                                         proposal_status=s.proposal_status.value)

    def conclude_customer_approval(self, approved: bool, actor: str) -> bool:
        """The customer accepted (governance approval comes next) or rejected it (the end)."""
        if not self.check_customer_decision(approved):
            return False
        self.record("customer_approval_concluded", {"approved": approved, "actor": actor})
        return True

    def check_conclude_proposal(self) -> bool:
        return self.state.proposal_status is ProposalStatus.PENDING_APPROVAL

    def conclude_proposal(self, approved: bool, accounts: dict[str, str] | None = None) -> bool:
        """Governance decided: approved → a pending facility with its ``accounts``; denied → the end."""
        if not self.check_conclude_proposal():
            return False
        self.record("proposal_concluded", {"approved": approved})
        if approved:
            self.record("pending_facility_created", {"accounts": accounts or {}})
        return True

    # -- collateral and collateralization ------------------------------------------------------
    def check_collateral_update(self, collateral_sats: int, seq: int | None = None) -> bool:
        """False when update ``seq`` is already applied (a retried activity)."""
        s = self.state
        if seq is not None and s.collateral_seq >= seq:
            return False
        if s.stage not in (Stage.PENDING, Stage.ACTIVE) or s.status is FacilityStatus.CLOSED:
            raise CollateralUpdateNotAllowed(self._refusal_detail())
        if not 0 <= collateral_sats <= MAX_SATS:
            raise InvalidCollateralAmount(f"{collateral_sats} is not a valid amount of satoshis.", field="collateral")
        return True

    def check_manual_collateral_update(self, collateral_sats: int, seq: int | None = None) -> bool:
        """An operator's update: as ``check_collateral_update``, and refused when a custodian reports
        this facility's collateral (custody-price-reports.md §1.6; the custody sync moves it)."""
        if not self.check_collateral_update(collateral_sats, seq):
            return False
        if self.state.custody_managed:
            raise ManualUpdateWithCustodian("Cannot update collateral with a custodian: the facility's collateral "
                                            "follows its custody wallet.")
        return True

    def update_collateral(self, seq: int, collateral_sats: int, effective: date | None, now: datetime,
                          actor: str, *, today: date | None = None) -> CollateralChange | None:
        """Record the new absolute collateral; None when nothing changes (same amount, or a replay).
        Without an ``effective`` date it takes ``today`` (the business date; default ``now``'s date)."""
        if not self.check_collateral_update(collateral_sats, seq) or collateral_sats == self.state.collateral_sats:
            return None
        change = CollateralChange(seq, self.state.collateral_sats, collateral_sats, effective or today or now.date())
        self.record("collateral_updated", {
            "previous_sats": change.previous_sats, "new_sats": change.new_sats, "direction": change.direction,
            "effective": str(change.effective), "seq": seq, "actor": actor})
        return change

    def collateral_sent_to_liquidation(self, liquidation_id: str, amount_sats: int, effective: date,
                                       actor: str) -> None:
        """§9.1: BTC sent to the liquidator leaves the collateral (SEND_COLLATERAL_TO_LIQUIDATION). Not a
        manual update: ``collateral_seq`` (the operator's updates) is left as it is."""
        self.record("collateral_sent_to_liquidation", {
            "liquidation_id": liquidation_id, "amount_sats": amount_sats,
            "new_sats": self.state.collateral_sats - amount_sats, "effective": str(effective), "actor": actor})

    def liquidation_recorded(self, event: str, liquidation_id: str, **detail: Any) -> None:
        """The facility's history of its liquidations (``liquidation_initiated``, ``liquidation_completed``)."""
        self.record(event, {"liquidation_id": liquidation_id, **detail})

    def reevaluate(self, price_cents: int, *, observed_at: datetime | None = None, reason: str = "price") -> bool:
        """CVL at ``price_cents`` (§3.4–§3.6): a pending facility against its amount (no hysteresis),
        an active one against its total outstanding (principal and posted interest, §3.1). True when
        the state changed (recorded, with ``reason``: what recomputed it)."""
        s = self.state
        if s.stage is Stage.PENDING:
            outstanding = s.amount_cents
            value = cvlmod.cvl(s.collateral_sats, outstanding, price_cents)
            new, previous = cvlmod.pending_state(value, s.terms), s.pending_collateralization
        else:
            outstanding = s.outstanding_cents
            value, new = cvlmod.reevaluate(s.collateralization, s.collateral_sats, outstanding, price_cents, s.terms)
            previous = s.collateralization
        s.cvl, s.price_cents = str(value), price_cents  # the snapshot follows the price
        if new == previous:
            return False
        self._collateralization_changed(new.value, value, outstanding, price_cents, observed_at, reason)
        return True

    def recompute(self, outstanding_cents: int, price_cents: int | None, *, reason: str) -> bool:
        """The total outstanding changed (an obligation created or defaulted, a payment; §3.6): keep
        it and re-evaluate at ``price_cents`` (None: no price known, the state waits for the next
        price event, whose trigger prices are already the new ones). True when the state changed."""
        if outstanding_cents < 0:
            raise ValueError("outstanding must be non-negative")
        self.state.outstanding_cents = outstanding_cents
        if price_cents is None or not self.check_reevaluate():
            return False
        return self.reevaluate(price_cents, reason=reason)

    def trigger_prices(self) -> cvlmod.TriggerPrices:
        """Where a price event would change this facility's state (the price pass's index): an open
        active facility by its state and total outstanding, a pending one awaiting collateral by its
        activation price; none otherwise (closed, denied, a proposal)."""
        s = self.state
        if s.stage is Stage.PENDING and s.pending_status is PendingStatus.PENDING_COLLATERALIZATION:
            return cvlmod.pending_trigger_prices(s.collateral_sats, s.amount_cents, s.terms)
        if self.check_reevaluate():
            return cvlmod.trigger_prices(s.collateralization, s.collateral_sats, s.outstanding_cents, s.terms)
        return cvlmod.NO_TRIGGERS

    def _collateralization_changed(self, new: str, value: Decimal, outstanding: int, price_cents: int,
                                   observed_at: datetime | None = None, reason: str = "price") -> None:
        self.record("collateralization_changed", collateralization_payload(
            self.state.stage.value, new, value, self.state.collateral_sats, outstanding, price_cents, reason,
            observed_at))

    def check_reevaluate(self) -> bool:
        """An active or matured facility follows the price (§10: a matured one is still monitored);
        a pending one moves with its collateral, a closed one no longer."""
        return self.state.stage is Stage.ACTIVE and self.state.status in (FacilityStatus.ACTIVE, FacilityStatus.MATURED)

    # -- activation ----------------------------------------------------------------------------
    def ready_to_activate(self) -> bool:
        """Pending and fully collateralized (the threshold is ``cvl.activation_cvl_threshold``)."""
        return (self.state.stage is Stage.PENDING
                and self.state.pending_collateralization is cvlmod.PendingCollateralizationState.FULLY_COLLATERALIZED)

    def check_activate(self) -> bool:
        """True while pending; False once active (a replay)."""
        return self.state.stage is Stage.PENDING

    def activate(self, now: datetime, collateral_sats: int, price_cents: int, *,
                 today: date | None = None) -> Activation | None:
        """§4.4 on the collateral in the ledger and a fresh price; below the threshold nothing happens.
        ``today`` is the activation's business date (default ``now``'s date): the maturity date, the
        initial disbursal's obligation and the first accrual cycle count from it."""
        s = self.state
        today = today or now.date()
        if not self.check_activate():
            return None
        value = cvlmod.cvl(collateral_sats, s.amount_cents, price_cents)
        if value < cvlmod.activation_cvl_threshold(s.terms):
            return None
        self.record("pending_facility_completed", {})
        self.record("facility_activated", {
            "activated_at": now.isoformat(), "maturity_date": str(s.terms.maturity_date(today)), "cvl": str(value),
            "price_cents": price_cents, "collateral_sats": collateral_sats})
        initial, obligation = None, None
        amount = initial_disbursal_cents(s.terms, s.amount_cents)
        if amount:
            initial = Disbursal.initial(s.id, amount)
            obligation = Obligation.for_disbursal(s.id, initial.id, amount, today, self.due_dates(),
                                                  is_initial=True)
            self.record("initial_disbursal_settled", {"disbursal_id": initial.id, "amount_cents": amount})
        fee = s.terms.one_time_fee_cents(s.amount_cents)
        if fee:
            self.record("structuring_fee_charged", {"amount_cents": fee})
        # §4.4 step 4: the first collateralization of the facility, CVL against the facility amount
        self._collateralization_changed(cvlmod.state_for_cvl(value, s.terms).value, value, s.amount_cents, price_cents,
                                        reason="activation")
        # Against the total outstanding (the initial disbursal, at most the amount) the CVL is at least
        # this one, so the state holds; with no initial disbursal nothing is exposed, and the stored
        # trigger prices (``up = 0``) let the next price event record NoExposure.
        assert s.maturity_date is not None
        return Activation(value, initial, obligation, fee, AccrualCycle.first(s.id, today, s.maturity_date, s.terms))

    def attach_accounts(self, accounts: dict[str, str]) -> None:
        """The ledger accounts opened for the active facility (ids only; no lifecycle change)."""
        self.accounts.update(accounts)

    # -- disbursals ----------------------------------------------------------------------------
    def due_dates(self) -> DueDates:
        return DueDates.at_maturity(self.state.maturity_date, self.state.terms)

    def check_disbursal(self, amount_cents: int, today: date | None, disbursal_id: str | None = None) -> bool:
        """§5.1 checks 3, 4, 5, 7 and the remaining amount (8); the CVL check (6) needs the price.
        False when ``disbursal_id`` is already awaiting approval (a replayed request). ``today`` is
        the business date: none on or after the maturity date. The workflow passes None (it does
        not know the business date: its Temporal clock is not the business clock; the end of day's
        ``matured`` event marks the facility ``Matured``), the step the date of the business clock."""
        s = self.state
        if disbursal_id is not None and disbursal_id in s.in_flight:
            return False
        if s.stage is not Stage.ACTIVE or s.status is not FacilityStatus.ACTIVE:  # matured (§10) or closed
            raise DisbursalOnInactiveFacility(self._refusal_detail(), facility_status=s.status_label)
        if s.terms.is_single_disbursal:
            raise OnlyOneDisbursalAllowed("The single disbursal was made at activation.")
        if s.maturity_date and today is not None and today >= s.maturity_date:
            raise DisbursalPastMaturityDate(f"The facility matured on {s.maturity_date}.")
        if amount_cents <= 0:
            raise InvalidDisbursalAmount("The amount must be positive.", field="amount")
        if amount_cents > s.remaining_cents:
            raise DisbursalAmountTooLarge(
                f"{amount_cents} cents requested, {s.remaining_cents} cents remain on the facility.",
                field="amount", remaining_cents=s.remaining_cents)
        return True

    def initiate_disbursal(self, disbursal_id: str, amount_cents: int, actor: str, now: datetime,
                           uncovered_cents: int, price_cents: int, *, today: date | None = None) -> Disbursal | None:
        """Draw ``amount_cents`` pending approval; the new disbursal (None for a replay)."""
        if not self.check_disbursal(amount_cents, today or now.date(), disbursal_id):
            return None
        value = check_disbursal_cvl(self.state.terms, self.state.collateral_sats, uncovered_cents, amount_cents,
                                    price_cents)
        self.record("disbursal_initiated", {"disbursal_id": disbursal_id, "amount_cents": amount_cents,
                                            "cvl_after": str(value), "price_cents": price_cents, "actor": actor})
        return Disbursal.initiate(disbursal_id, self.id, amount_cents, actor)

    def conclude_disbursal(self, disbursal: Disbursal, approved: bool, effective: date) -> Obligation | None:
        """Governance decided: approved settles it (its principal obligation is returned), denied
        cancels it (the amount is available again). A concluded disbursal records nothing."""
        if not disbursal.conclude(approved):
            return None
        self.record("disbursal_concluded", {"disbursal_id": disbursal.id, "status": disbursal.status.value,
                                            "amount_cents": disbursal.amount_cents})
        if disbursal.status is not DisbursalStatus.CONFIRMED:
            return None
        return Obligation.for_disbursal(self.id, disbursal.id, disbursal.amount_cents, effective, self.due_dates())

    def fail_disbursal(self, disbursal: Disbursal, code: str, reason: str) -> bool:
        """Approved, but its settlement was refused: the disbursal ends ``Failed`` with the refusal's
        code and reason and its amount is available again. False when already concluded."""
        if not disbursal.fail(code, reason):
            return False
        self.record("disbursal_concluded", {"disbursal_id": disbursal.id, "status": disbursal.status.value,
                                            "amount_cents": disbursal.amount_cents, "failure_code": code,
                                            "failure_reason": reason})
        return True

    # -- maturity (§10) ------------------------------------------------------------------------
    def check_mature(self, business_date: date) -> bool:
        """True for an active facility whose maturity date is on or before ``business_date``; False
        otherwise (not yet, already matured: a rerun, or never activated / closed)."""
        s = self.state
        return (s.stage is Stage.ACTIVE and s.status is FacilityStatus.ACTIVE and s.maturity_date is not None
                and s.maturity_date <= business_date)

    def mature(self, business_date: date) -> bool:
        """The facility matures: no new disbursals, no cycle after the last; its obligations keep
        their lifecycle and payments stay possible."""
        if not self.check_mature(business_date):
            return False
        self.record("facility_matured", {"maturity_date": str(self.state.maturity_date),
                                         "business_date": str(business_date)})
        return True

    # -- payments (§8) -------------------------------------------------------------------------
    def check_payment(self, amount_cents: int) -> bool:
        """§8.1: an active or matured facility takes a positive payment; a closed one refuses it."""
        s = self.state
        if s.status is FacilityStatus.CLOSED:
            raise PaymentOnClosedFacility(f"{self._refusal_detail()} It takes no payments.")
        if s.stage is not Stage.ACTIVE or s.status not in (FacilityStatus.ACTIVE, FacilityStatus.MATURED):
            raise PaymentOnInactiveFacility(self._refusal_detail(), facility_status=s.status_label)
        check_payment_amount(amount_cents)
        return True

    def payment_recorded(self, payment_id: str, amount_cents: int, effective: date,
                         allocations: list[Allocation], actor: str) -> None:
        """The payment in the facility's history (the allocations are on the obligations' streams)."""
        self.record("payment_recorded", {
            "payment_id": payment_id, "amount_cents": amount_cents, "effective": str(effective), "actor": actor,
            "allocated_cents": sum(a.amount_cents for a in allocations),
            "allocations": [{"obligation_id": a.obligation_id, "amount_cents": a.amount_cents} for a in allocations]})

    # -- completion (§10) ----------------------------------------------------------------------
    def check_complete(self, balance: FacilityBalanceSummary | None = None) -> bool:
        """True for an active or matured facility with nothing outstanding (``balance``: the ledger's
        figures; without them only the status is checked, as in a workflow validator); False once
        closed (a replay); otherwise refused, naming what is outstanding."""
        s = self.state
        if s.status is FacilityStatus.CLOSED:
            return False
        if s.stage is not Stage.ACTIVE or s.status is None:
            raise CompletionNotAllowed(self._refusal_detail(), facility_status=s.status_label)
        outstanding = outstanding_parts(balance) if balance is not None else {}
        if s.in_flight:
            outstanding["disbursals_awaiting_approval"] = sum(s.in_flight.values())
        if outstanding:
            named = ", ".join(f"{k} {v} ¢" for k, v in outstanding.items())
            raise FacilityHasOutstanding(f"{self._refusal_detail()} Outstanding: {named}.", outstanding=outstanding)
        return True

    def complete(self, balance: FacilityBalanceSummary, effective: date, now: datetime,
                 actor: str) -> CollateralChange | None:
        """Close the facility: the collateral is released (set to 0: the change to post, None when
        there was none), collateralization ``NoCollateral``, status ``Closed``."""
        if not self.check_complete(balance):
            return None
        s = self.state
        change = None
        if s.collateral_sats:
            change = CollateralChange(s.collateral_seq + 1, s.collateral_sats, 0, effective)
            self.record("collateral_updated", {
                "previous_sats": change.previous_sats, "new_sats": 0, "direction": change.direction,
                "effective": str(effective), "seq": change.seq, "actor": actor, "reason": "facility_completed"})
        if s.collateralization is not cvlmod.CollateralizationState.NO_COLLATERAL:
            self._collateralization_changed(cvlmod.CollateralizationState.NO_COLLATERAL.value,
                                            cvlmod.cvl(0, 0, s.price_cents or 1), 0, s.price_cents or 0)
        self.record("facility_completed", {"completed_at": now.isoformat(), "actor": actor,
                                           "released_sats": change.amount if change else 0})
        return change

    # -- events --------------------------------------------------------------------------------
    def apply(self, event_type: str, payload: dict[str, Any]) -> None:
        s = self.state
        if event_type == "customer_approval_concluded":
            if payload["approved"]:
                s.proposal_status = ProposalStatus.PENDING_APPROVAL
            else:
                s.stage, s.proposal_status = Stage.DENIED, ProposalStatus.CUSTOMER_DENIED
        elif event_type == "proposal_concluded":
            if payload["approved"]:
                s.stage, s.proposal_status = Stage.PENDING, ProposalStatus.APPROVED
                s.pending_status = PendingStatus.PENDING_COLLATERALIZATION
                s.pending_collateralization = cvlmod.PendingCollateralizationState.NOT_YET_COLLATERALIZED
            else:
                s.stage, s.proposal_status = Stage.DENIED, ProposalStatus.DENIED
        elif event_type == "pending_facility_created":
            self.accounts = dict(payload["accounts"])
        elif event_type == "collateral_updated":
            s.collateral_sats, s.collateral_seq = payload["new_sats"], payload["seq"]
        elif event_type == "collateral_sent_to_liquidation":
            s.collateral_sats = payload["new_sats"]
        elif event_type == "collateralization_changed":
            if payload["stage"] == Stage.PENDING.value:
                s.pending_collateralization = cvlmod.PendingCollateralizationState(payload["state"])
            else:
                s.collateralization = cvlmod.CollateralizationState(payload["state"])
            s.cvl, s.price_cents = payload["cvl"], payload["price_cents"]
        elif event_type == "pending_facility_completed":
            s.pending_status = PendingStatus.COMPLETED
        elif event_type == "facility_activated":
            s.stage, s.status = Stage.ACTIVE, FacilityStatus.ACTIVE
            s.activated_at = datetime.fromisoformat(payload["activated_at"])
            s.maturity_date = date.fromisoformat(payload["maturity_date"])
        elif event_type == "initial_disbursal_settled":
            s.drawn_cents += payload["amount_cents"]
            s.disbursed_cents += payload["amount_cents"]
            s.outstanding_cents += payload["amount_cents"]
        elif event_type == "disbursal_initiated":
            s.drawn_cents += payload["amount_cents"]
            s.in_flight[payload["disbursal_id"]] = payload["amount_cents"]
            s.disbursal_count += 1
        elif event_type == "disbursal_concluded":
            s.in_flight.pop(payload["disbursal_id"], None)
            if payload["status"] == DisbursalStatus.CONFIRMED.value:
                s.disbursed_cents += payload["amount_cents"]
                s.outstanding_cents += payload["amount_cents"]
            else:
                s.drawn_cents -= payload["amount_cents"]
            if payload["status"] == DisbursalStatus.FAILED.value:
                s.failed_disbursals += 1
                s.last_disbursal_failure = f"{payload['disbursal_id']}: {payload['failure_code']}"
        elif event_type == "facility_matured":
            s.status = FacilityStatus.MATURED
        elif event_type == "facility_completed":
            s.status = FacilityStatus.CLOSED
        # proposal_created (the state is built by propose), structuring_fee_charged and
        # payment_recorded change no field
