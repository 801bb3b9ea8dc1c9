"""Workflow and activity payloads of the credit module (pydantic: Temporal's data converter).

``FacilityState`` is the loan as the ``CreditFacility`` workflow carries it (also across
continue-as-new); the read model mirrors it. The step activities and the Updates answer with its
moving part, ``FacilityChange``. The rest are the Updates' commands, the activities' inputs and
the ``summary`` query's answer.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, Field

from domain.credit.cvl import CollateralizationState, PendingCollateralizationState, cvl_json
from domain.credit.facility_day import FacilityDay
from domain.credit.status import FacilityStatus, PendingStatus, ProposalStatus, Stage
from domain.credit.terms import TermValues


class FacilityChange(BaseModel):
    """What a step can change: a ``FacilityState`` without what is fixed at the proposal (the
    identities, the amount, the terms, the custodian). The step activities and the Updates answer
    with it, and the workflow merges it into its own copy (``FacilityState.with_change``), so a
    history carries the terms once (the start input), not in every step's result. A result of the
    full state (histories recorded before) decodes into it too: the other fields are ignored."""

    stage: Stage = Stage.PROPOSAL
    proposal_status: ProposalStatus = ProposalStatus.PENDING_APPROVAL
    pending_status: PendingStatus | None = None
    status: FacilityStatus | None = None
    pending_collateralization: PendingCollateralizationState | None = None
    collateralization: CollateralizationState | None = None
    collateral_sats: int = 0
    collateral_seq: int = 0
    cvl: str | None = None
    price_cents: int | None = None
    drawn_cents: int = 0  # facility amount drawn, including disbursals awaiting approval
    disbursed_cents: int = 0  # confirmed principal
    # total outstanding (credit.md §3.1), what an active facility's CVL is measured against; a
    # read-model figure (the end of day and payments move it outside the facility's stream)
    outstanding_cents: int = 0
    in_flight: dict[str, int] = Field(default_factory=dict)  # disbursal id -> amount awaiting approval
    disbursal_count: int = 0
    activated_at: datetime | None = None
    maturity_date: date | None = None
    failed_disbursals: int = 0  # approved disbursals whose settlement was refused
    version: int = 0  # the stored row's version: of two snapshots, the workflow keeps the newer
    # the collateral is reported by a custodian (a wallet of a non-manual provider): manual updates
    # are refused (custody-price-reports.md §1.6); from the wallet table, read with the row
    custody_managed: bool = False
    last_disbursal_failure: str | None = None  # "{disbursal id}: {refusal code}"


class FacilityState(FacilityChange):
    """Everything the workflow needs to decide; amounts in cents / sats, CVL as a decimal string."""

    id: str
    customer_id: str
    customer_type: str
    amount_cents: int
    terms: TermValues
    collateral_id: str
    deposit_account_id: str
    custodian_id: str | None = None  # the custodian the proposal named (None: manual collateral)
    # what the workflow heard from end-of-day events (not in the read model: carried across
    # continue-as-new only; activities answer without it)
    end_of_day: FacilityDay | None = None

    def change(self) -> FacilityChange:
        """The fields a step moves (no validation: they are this state's own values)."""
        return FacilityChange.model_construct(**{k: getattr(self, k) for k in FacilityChange.model_fields})

    def with_change(self, change: FacilityChange) -> FacilityState:
        """This state with a step's answer applied (the fixed fields kept)."""
        return self.model_copy(update={k: getattr(change, k) for k in FacilityChange.model_fields})

    @property
    def status_label(self) -> str:
        """One word for the Web UI's LanaStatus search attribute."""
        if self.stage is Stage.ACTIVE and self.status:
            return self.status.value
        if self.stage is Stage.PENDING and self.pending_status:
            return self.pending_status.value
        return self.proposal_status.value

    @property
    def customer_accepted(self) -> bool | None:
        """The customer's decision (§4.2): None when the terms have no such step or it is awaited."""
        if (not self.terms.customer_acceptance_required
                or self.proposal_status is ProposalStatus.PENDING_CUSTOMER_APPROVAL):
            return None
        return self.proposal_status is not ProposalStatus.CUSTOMER_DENIED

    @property
    def collateralization_label(self) -> str:
        state = self.collateralization or self.pending_collateralization
        return state.value if state else "NotYetCollateralized"

    @property
    def remaining_cents(self) -> int:
        return self.amount_cents - self.drawn_cents

    def cvl_out(self) -> dict | None:
        return None if self.cvl is None else cvl_json(Decimal(self.cvl))


# --- Updates (operator commands) -----------------------------------------------------------------
class CustomerDecisionCommand(BaseModel):
    approved: bool
    actor: str


class CollateralCommand(BaseModel):
    collateral_sats: int
    effective: date | None = None
    actor: str


class DisbursalCommand(BaseModel):
    disbursal_id: str
    amount_cents: int
    actor: str


class PaymentCommand(BaseModel):
    """credit.md §8.1: ``payment_id`` is the client's idempotency identity (a replay finds it);
    ``effective`` None = the current business date."""

    payment_id: str
    amount_cents: int
    effective: date | None = None
    actor: str


class CompleteCommand(BaseModel):
    actor: str


# --- activity inputs -----------------------------------------------------------------------------
class ConcludeProposal(BaseModel):
    facility_id: str
    approved: bool
    now: datetime


class CustomerDecisionInput(BaseModel):
    facility_id: str
    approved: bool
    actor: str


class CollateralInput(BaseModel):
    facility_id: str
    seq: int
    collateral_sats: int
    effective: date | None = None
    actor: str
    now: datetime
    # set by the custody path (custody-price-reports.md §1.7): the step then records the wallet's
    # latest balance (read under the facility's lock, dated its UTC change date), not ``collateral_sats``
    custody_wallet_id: str | None = None


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


class PaymentInput(BaseModel):
    facility_id: str
    payment_id: str
    amount_cents: int
    effective: date | None = None
    actor: str
    now: datetime


class CompleteInput(BaseModel):
    facility_id: str
    actor: str
    now: datetime


class AllocationInfo(BaseModel):
    """One allocation of a payment (credit.md §8.2 step 4), in allocation order."""

    id: str
    obligation_id: str
    obligation_type: str
    obligation_status: str  # when allocated (the receivable credited)
    amount_cents: int
    idx: int  # the obligation's 1-based allocation count
    ledger_tx_id: str | None = None


class PaymentOutcome(BaseModel):
    """The ``record_payment`` Update's answer: the payment with its allocations, and the facility."""

    payment_id: str
    facility_id: str
    amount_cents: int
    effective: date
    allocations: list[AllocationInfo]
    replayed: bool = False  # the payment already existed (a repeated request): nothing new posted
    state: FacilityState


class ReevaluateInput(BaseModel):
    facility_id: str
    usd_cents_per_btc: int
    observed_at: datetime


# --- queries -------------------------------------------------------------------------------------
class FacilitySummary(BaseModel):
    """The ``summary`` query: what an engineer wants at a glance in the Web UI."""

    status: str
    collateralization: str
    cvl: dict | None
    price_cents: int | None
    collateral_sats: int
    amount_cents: int
    remaining_cents: int
    drawn_cents: int
    disbursed_cents: int
    in_flight_cents: int
    failed_disbursals: int = 0
    last_disbursal_failure: str | None = None
    current_cycle: str | None = None
    next_accrual_date: date | None = None
    worst_obligation_status: str | None = None

    @classmethod
    def of(cls, s: FacilityState, day: FacilityDay | None = None) -> FacilitySummary:
        day = day or FacilityDay()
        return cls(status=s.status_label, collateralization=s.collateralization_label, cvl=s.cvl_out(),
                   price_cents=s.price_cents, collateral_sats=s.collateral_sats, amount_cents=s.amount_cents,
                   remaining_cents=s.remaining_cents, drawn_cents=s.drawn_cents, disbursed_cents=s.disbursed_cents,
                   in_flight_cents=sum(s.in_flight.values()), failed_disbursals=s.failed_disbursals,
                   last_disbursal_failure=s.last_disbursal_failure, current_cycle=day.current_cycle,
                   next_accrual_date=day.next_accrual_date, worst_obligation_status=day.worst_obligation_status)


# --- collateralization at scale (price pass, end of day) ------------------------------------------
COLLATERALIZATION_SIGNAL = "collateralization_changed"
CUSTODY_COLLATERAL_SIGNAL = "custody_collateral"
CUSTODIAN_SYNC_ACTOR = "system:custodian-sync"  # initiator of collateral postings from custody (§6)


class CustodyCollateralSignal(BaseModel):
    """From the custody wallet's workflow: the wallet's balance changed. The facility's step reads
    the wallet's latest balance under the facility's lock, so a late signal applies the newest
    balance, never an older one (custody-price-reports.md §1.7, spec rule)."""

    wallet_id: str
    balance_sats: int
    changed_at: datetime


class CollateralizationSignal(BaseModel):
    """Signal ``collateralization_changed`` to a facility workflow: a set-based pass (a price event,
    the end of day) recorded a new collateralization state on the facility's row at ``version``.
    The workflow takes it when newer than its copy (delivered at least once, in any order)."""

    facility_id: str
    state: CollateralizationState
    cvl: str
    price_cents: int
    outstanding_cents: int
    collateral_sats: int
    version: int
    reason: str


class PricePassInput(BaseModel):
    usd_cents_per_btc: int = Field(gt=0)
    observed_at: datetime
    page_size: int = Field(default=1000, gt=0)
    concurrency: int | None = Field(default=None, gt=0, le=16)  # pages in flight; None: the worker's setting
    deliver: bool = True  # signal the workflows after the pages (the bench seeds facilities without any)


class PricePassResult(BaseModel):
    """What one price event's pass did (``signalled_sample``: the first few ids signalled)."""

    pages: int = 0
    selected: int = 0  # rows whose stored trigger price the price crossed
    state_changes: int = 0  # active facilities whose state changed (event + history + signal)
    activations: int = 0  # pending facilities signalled to activate
    triggers_fixed: int = 0  # crossed, same state (stale trigger prices, e.g. after the migration)
    signalled: int = 0
    not_delivered: int = 0  # no such workflow (closed, never started)
    superseded: bool = False  # a newer price was recorded meanwhile: its own pass goes on
    signalled_sample: list[str] = Field(default_factory=list)


class PricePassCursor(BaseModel):
    """The pass's heartbeat: the phase (``down``: trigger_price_down >= price, in descending order;
    ``up``: trigger_price_up <= price, ascending), the keyset position inside it, the totals."""

    phase: str = "down"
    trigger: int | None = None
    after: str | None = None
    result: PricePassResult = Field(default_factory=PricePassResult)
