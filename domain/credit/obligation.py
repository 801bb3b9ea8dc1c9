"""Obligations (credit.md §7): what the customer owes, when it falls due, and its status lifecycle.

Two kinds: the principal of a settled disbursal (due at the facility's maturity) and the interest of
a completed accrual cycle (due ``interest_due_duration_from_accrual`` days after the cycle's end,
spec rule §6.6). The overdue date is ``due + obligation_overdue_duration_from_due`` and the default
date ``due + obligation_liquidation_duration_from_due`` (spec rule §7.5: the liquidation date is the
default date); either may be absent.

An event-sourced aggregate (stream ``credit_obligation``): ``created``, then ``due``, ``overdue``,
``defaulted`` as business dates pass. ``advance(D)`` catches up through every transition whose date
is on or before D in one call, each on its own effective date (§7.2), and moves the current
outstanding. Payments (``allocate``, credit.md §8.2) append ``payment_allocated`` and, when
nothing is left, ``completed`` (status ``Paid``: no further transition).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from domain.credit.allocation import Owed
from domain.credit.status import ObligationStatus, ObligationType
from domain.credit.terms import ObligationDuration, TermValues
from domain.events import EventSourced

S = ObligationStatus


def _after(d: date, duration: ObligationDuration | None) -> date | None:
    return d + timedelta(days=duration.units) if duration is not None else None


@dataclass(frozen=True)
class DueDates:
    due_date: date
    overdue_date: date | None
    liquidation_date: date | None

    @property
    def defaulted_date(self) -> date | None:
        """Spec rule §7.5: an obligation defaults when it becomes liquidation-eligible."""
        return self.liquidation_date

    @classmethod
    def from_due(cls, due: date, terms: TermValues) -> DueDates:
        return cls(due_date=due, overdue_date=_after(due, terms.obligation_overdue_duration_from_due),
                   liquidation_date=_after(due, terms.obligation_liquidation_duration_from_due))

    @classmethod
    def at_maturity(cls, maturity: date, terms: TermValues) -> DueDates:
        """A principal obligation: due on the maturity date."""
        return cls.from_due(maturity, terms)

    @classmethod
    def after_cycle(cls, cycle_end: date, terms: TermValues) -> DueDates:
        """An interest obligation: due ``interest_due_duration_from_accrual`` after the cycle's end (§6.6)."""
        return cls.from_due(cycle_end + timedelta(days=terms.interest_due_duration_from_accrual.units), terms)


@dataclass(frozen=True)
class Transition:
    """One status change of an obligation: ``amount_cents`` moves between its receivable accounts
    on ``effective`` (the scheduled date, not the processing date)."""

    obligation_id: str
    obligation_type: ObligationType
    from_status: ObligationStatus
    to_status: ObligationStatus
    effective: date
    amount_cents: int


def next_transition(status: ObligationStatus, dates: DueDates) -> tuple[ObligationStatus, date] | None:
    """§7.2 "next transition date": not yet due → due; due → overdue (else defaulted); overdue →
    defaulted; none from defaulted or paid, or when the date is not configured."""
    if status is S.NOT_YET_DUE:
        return S.DUE, dates.due_date
    if status is S.DUE and dates.overdue_date is not None:
        return S.OVERDUE, dates.overdue_date
    if status in (S.DUE, S.OVERDUE) and dates.defaulted_date is not None:
        return S.DEFAULTED, dates.defaulted_date
    return None


def next_transition_date(status: ObligationStatus, dates: DueDates) -> date | None:
    nxt = next_transition(status, dates)
    return nxt[1] if nxt else None


@dataclass
class Obligation(EventSourced):
    entity_type = "credit_obligation"

    facility_id: str = ""
    amount_cents: int = 0
    effective: date = date.min  # the day the debt arose
    dates: DueDates = field(default_factory=lambda: DueDates(date.min, None, None))
    obligation_type: ObligationType = ObligationType.DISBURSAL
    status: ObligationStatus = S.NOT_YET_DUE
    reference: str = ""
    disbursal_id: str | None = None  # a principal obligation's disbursal
    cycle_id: str | None = None  # an interest obligation's accrual cycle
    is_initial: bool = False  # the disbursal made at activation (credit.md §5, §13 reference)
    paid_cents: int = 0  # Σ allocations
    allocation_count: int = 0  # allocations received (the next one's ``payment_allocation_idx`` is this + 1)
    created_at: datetime | None = None  # the row's (allocation order's last tie-break), not an event field

    @property
    def outstanding_cents(self) -> int:
        return self.amount_cents - self.paid_cents

    @property
    def next_transition_date(self) -> date | None:
        return next_transition_date(self.status, self.dates)

    @classmethod
    def _create(cls, obligation_id: str, **values: Any) -> Obligation:
        o = cls(id=obligation_id)
        o.record("created", {k: (str(v) if isinstance(v, date) else v) for k, v in values.items()})
        return o

    @classmethod
    def for_disbursal(cls, facility_id: str, disbursal_id: str, amount_cents: int, effective: date,
                      dates: DueDates, *, is_initial: bool = False) -> Obligation:
        """The principal obligation of a settled disbursal (its id follows from the disbursal's);
        §13 reference ``initial-disbursal-{id}`` for the disbursal made at activation, else
        ``disbursal-{id}``."""
        reference = f"{'initial-disbursal' if is_initial else 'disbursal'}-{disbursal_id}"
        return cls._create(str(uuid.uuid5(uuid.UUID(disbursal_id), "obligation")), facility_id=facility_id,
                           obligation_type=ObligationType.DISBURSAL.value, amount_cents=amount_cents,
                           effective=effective, reference=reference, disbursal_id=disbursal_id,
                           is_initial=is_initial, **_dates(dates))

    @classmethod
    def for_interest(cls, facility_id: str, cycle_id: str, cycle_idx: int, amount_cents: int, effective: date,
                     dates: DueDates) -> Obligation:
        """The interest obligation of a completed accrual cycle (§6.5, reference
        ``{facility_id}-interest-accrual-cycle-{idx}``); its id follows from the cycle's."""
        return cls._create(str(uuid.uuid5(uuid.UUID(cycle_id), "obligation")), facility_id=facility_id,
                           obligation_type=ObligationType.INTEREST.value, amount_cents=amount_cents,
                           effective=effective, reference=f"{facility_id}-interest-accrual-cycle-{cycle_idx}",
                           cycle_id=cycle_id, **_dates(dates))

    # -- the status lifecycle (§7.2) -----------------------------------------------------------
    def check_advance(self, business_date: date) -> bool:
        """True when a transition is due on ``business_date``; False when none is (a rerun, or
        nothing scheduled yet)."""
        nxt = self.next_transition_date
        return nxt is not None and nxt <= business_date

    def advance(self, business_date: date) -> list[Transition]:
        """Every transition due by ``business_date``, in order, each recorded with its own date."""
        done: list[Transition] = []
        while self.check_advance(business_date):
            to, when = next_transition(self.status, self.dates)  # type: ignore[misc]
            done.append(Transition(self.id, self.obligation_type, self.status, to, when, self.outstanding_cents))
            self.record(_EVENT[to], {"from_status": self.status.value, "effective": str(when),
                                     "amount_cents": self.outstanding_cents, "business_date": str(business_date)})
        return done

    # -- payments (§8.2) --------------------------------------------------------------------------
    def owed(self) -> Owed:
        return Owed(self.id, self.obligation_type, self.status, self.effective,
                    self.created_at or datetime.min, self.outstanding_cents)

    def allocate(self, payment_id: str, amount_cents: int, effective: date) -> Allocation:
        """Apply ``amount_cents`` of a payment: the receivable of the current status is credited
        (a defaulted obligation's defaulted account: spec rule §15 #8); paid off → ``Paid``."""
        if not 0 < amount_cents <= self.outstanding_cents:
            raise ValueError(f"cannot allocate {amount_cents} to obligation {self.id} "
                             f"(outstanding {self.outstanding_cents})")
        status, idx = self.status, self.allocation_count + 1
        allocation = Allocation(id=str(uuid.uuid5(uuid.UUID(payment_id), f"allocation:{self.id}")),
                                payment_id=payment_id, obligation_id=self.id, facility_id=self.facility_id,
                                obligation_type=self.obligation_type, obligation_status=status,
                                amount_cents=amount_cents, idx=idx, effective=effective,
                                receivable_role=RECEIVABLE_ROLES[self.obligation_type][status])
        self.record("payment_allocated", {"payment_id": payment_id, "allocation_id": allocation.id,
                                          "amount_cents": amount_cents, "idx": idx, "effective": str(effective),
                                          "status": status.value})
        if self.outstanding_cents == 0:
            self.record("completed", {"effective": str(effective), "payment_id": payment_id})
        return allocation

    def apply(self, event_type: str, payload: dict[str, Any]) -> None:
        if event_type == "payment_allocated":
            self.paid_cents += payload["amount_cents"]
            self.allocation_count = payload["idx"]
        elif event_type == "completed":
            self.status = S.PAID
        elif event_type == "created":
            self.facility_id = payload["facility_id"]
            self.obligation_type = ObligationType(payload["obligation_type"])
            self.amount_cents = payload["amount_cents"]
            self.effective = date.fromisoformat(payload["effective"])
            self.reference = payload["reference"]
            self.disbursal_id, self.cycle_id = payload.get("disbursal_id"), payload.get("cycle_id")
            self.is_initial = payload.get("is_initial", False)
            self.dates = DueDates(*(date.fromisoformat(payload[k]) if payload.get(k) else None
                                    for k in ("due_date", "overdue_date", "liquidation_date")))  # type: ignore[arg-type]
        elif event_type in _STATUS:
            self.status = _STATUS[event_type]


@dataclass(frozen=True)
class Allocation:
    """One payment's share of one obligation (credit.md §8.2 step 4): posted as
    RECORD_PAYMENT_ALLOCATION under ``obligation-{obligation_id}-idx-{idx}``."""

    id: str
    payment_id: str
    obligation_id: str
    facility_id: str
    obligation_type: ObligationType
    obligation_status: ObligationStatus  # when allocated: which receivable was credited
    amount_cents: int
    idx: int  # 1-based count of the allocations this obligation has received
    effective: date
    receivable_role: str  # the facility account role credited

    @property
    def idempotency_key(self) -> str:
        return f"obligation-{self.obligation_id}-idx-{self.idx}"


# ledger.md B3.4 / B5.6: the facility account that holds an obligation's balance in each status
RECEIVABLE_ROLES: dict[ObligationType, dict[ObligationStatus, str]] = {
    ObligationType.DISBURSAL: {S.NOT_YET_DUE: "disbursed_receivable_not_yet_due", S.DUE: "disbursed_receivable_due",
                               S.OVERDUE: "disbursed_receivable_overdue", S.DEFAULTED: "disbursed_defaulted"},
    ObligationType.INTEREST: {S.NOT_YET_DUE: "interest_receivable_not_yet_due", S.DUE: "interest_receivable_due",
                              S.OVERDUE: "interest_receivable_overdue", S.DEFAULTED: "interest_defaulted"},
}


def reclassification(t: Transition) -> tuple[str, dict[str, str]]:
    """B5.6: the template of a transition and its account parameters, as facility account roles."""
    roles = RECEIVABLE_ROLES[t.obligation_type]
    if t.to_status is S.DUE:
        return "RECORD_OBLIGATION_DUE_BALANCE", {"receivable_not_yet_due_account_id": roles[S.NOT_YET_DUE],
                                                 "receivable_due_account_id": roles[S.DUE]}
    if t.to_status is S.OVERDUE:
        return "RECORD_OBLIGATION_OVERDUE_BALANCE", {"receivable_due_account_id": roles[S.DUE],
                                                     "receivable_overdue_account_id": roles[S.OVERDUE]}
    return "RECORD_OBLIGATION_DEFAULTED_BALANCE", {"receivable_account_id": roles[t.from_status],
                                                   "defaulted_account_id": roles[S.DEFAULTED]}


_EVENT = {S.DUE: "due", S.OVERDUE: "overdue", S.DEFAULTED: "defaulted"}
_STATUS = {v: k for k, v in _EVENT.items()}


def _dates(d: DueDates) -> dict[str, date | None]:
    return {"due_date": d.due_date, "overdue_date": d.overdue_date, "liquidation_date": d.liquidation_date}
