"""End-of-day steps ``accrue_interest`` and ``complete_cycles`` (credit.md §6.5; contract:
``domain.credit.end_of_day``; how a page runs: ``batch.py``).

``accrue_interest`` selects the in-progress cycles whose next accrual period ends on or before D
(keyset on the facility id; at most one open cycle per facility), reads the disbursed outstanding
of the whole page in one query (not-yet-due + due + overdue principal, settled, as of each period's
end date: a date caught up late sees what a daily run saw), lets each cycle accrue ONE period and
posts ``CREDIT_FACILITY_ACCRUE_INTEREST`` (PENDING layer; key
``accrual:{cycle_id}:{n}``, effective the period's end). A zero amount is recorded, not posted.

``complete_cycles`` selects the cycles whose last period is accrued (status ``Accrued``), posts
``CREDIT_FACILITY_POST_ACCRUED_INTEREST`` for a positive total (key ``cycle:{cycle_id}:post``,
effective the cycle's last day), creates the interest obligation and starts the next cycle (none
once the cycle that ends on the maturity date is posted). The facility hears
``interest_obligation_created`` with the next cycle in the detail. The posted interest joins the
facility's total outstanding (``collateralization.outstanding_moved``: CVL at the latest price,
``collateralization_changed`` when its state changes).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Text, cast, select
from sqlalchemy.ext.asyncio import AsyncConnection

from activities import ledger
from activities.credit import collateralization
from activities.credit import facility_accounts as fa
from activities.credit import lifecycle_store as ls
from activities.credit.batch import Item, Plan, Posting, decide, nth_key, open_date
from activities.credit.tables import accrual_cycles, facilities
from domain.credit.accrual_cycle import Accrual, CyclePosting
from domain.credit.balance import PRINCIPAL
from domain.credit.end_of_day import FacilityEvent, FacilityEventKind
from domain.credit.status import AccrualCycleStatus
from domain.credit.terms import TermValues

C, F = accrual_cycles, facilities


def _page(status: AccrualCycleStatus, after: str | None, limit: int, until: str | None, *columns):
    q = (select(C, *columns).join(F, F.c.id == C.c.facility_id).where(C.c.status == status.value)
         .order_by(C.c.facility_id).with_for_update(of=C))
    q = q.limit(limit) if until is None else q.where(C.c.facility_id <= until)
    return q if after is None else q.where(C.c.facility_id > after)


def accruals_due(business_date: date):
    """The selection of ``accrue_interest`` (for ``batch.nth_key``)."""
    return lambda t: [t.c.status == AccrualCycleStatus.IN_PROGRESS.value, t.c.next_period_end <= business_date]


def completions_due(business_date: date):
    """The selection of ``complete_cycles``."""
    return lambda t: [t.c.status == AccrualCycleStatus.ACCRUED.value, t.c.end_date <= business_date]


async def accruals_end(conn: AsyncConnection, business_date: date, after: str | None, limit: int) -> str | None:
    return await nth_key(conn, C, "facility_id", accruals_due(business_date), after, limit)


async def completions_end(conn: AsyncConnection, business_date: date, after: str | None, limit: int) -> str | None:
    return await nth_key(conn, C, "facility_id", completions_due(business_date), after, limit)


# --- accrue_interest ------------------------------------------------------------------------------
_ACCRUAL_ROLES = ("interest_receivable_not_yet_due", "interest_income", *PRINCIPAL[:3])


async def plan_accruals(conn: AsyncConnection, business_date: date, after: str | None, limit: int,
                        until: str | None = None) -> Plan:
    roles = [F.c.accounts[role].astext.label(role) for role in _ACCRUAL_ROLES]  # not the whole accounts document
    rows = (await conn.execute(_page(AccrualCycleStatus.IN_PROGRESS, after, limit, until, *roles)
                               .where(C.c.next_period_end <= business_date))).all()
    if not rows:
        return Plan([], [], None, 0)
    owner, accounts, untils = [], [], []  # one point per principal account: (row index, account, period end)
    for i, r in enumerate(rows):
        for role in PRINCIPAL[:3]:
            if a := getattr(r, role):
                owner.append(i)
                accounts.append(a)
                untils.append(r.next_period_end)
    principal = [0] * len(rows)  # principal receivables are debit-normal
    for i, net in zip(owner, await ledger.net_debits_at(conn, accounts, untils), strict=True):
        principal[i] += net
    effective = await open_date(conn)
    plan = Plan([], [], str(rows[-1].facility_id), len(rows))

    def one(i: int, r) -> Item | None:
        cycle = ls.cycle_from_row(r)
        accrual = cycle.accrue(business_date, principal[i])
        if accrual is None:
            return None
        postings = [] if accrual.amount_cents == 0 else [Posting(
            "CREDIT_FACILITY_ACCRUE_INTEREST",
            {"interest_receivable_account_id": r.interest_receivable_not_yet_due,
             "interest_income_account_id": r.interest_income, "amount": accrual.amount_cents},
            f"accrual:{cycle.id}:{accrual.n}", effective(accrual.period.end))]
        return Item(str(r.facility_id), postings, (cycle, accrual))

    for i, r in enumerate(rows):
        decide(plan, str(r.facility_id), lambda i=i, r=r: one(i, r))
    return plan


async def persist_accruals(conn: AsyncConnection, business_date: date, items: list[Item]) -> list[FacilityEvent]:
    await ls.save_cycles(conn, [it.decision[0] for it in items])
    accruals: list[tuple[Accrual, str | None]] = [
        (it.decision[1], str(it.posted[0].id) if it.posted else None) for it in items]
    await ls.insert_accruals(conn, accruals)
    return []  # an accrual changes nothing a facility workflow decides on


# --- complete_cycles ------------------------------------------------------------------------------
_COMPLETION_ROLES = ("interest_receivable_not_yet_due", "interest_income", "interest_added_omnibus",
                     "uncovered_outstanding")


async def plan_completions(conn: AsyncConnection, business_date: date, after: str | None, limit: int,
                           until: str | None = None) -> Plan:
    rows = (await conn.execute(_page(AccrualCycleStatus.ACCRUED, after, limit, until, *fa.role_columns(_COMPLETION_ROLES),
                                     cast(F.c.terms, Text).label("terms_text"), F.c.maturity_date)
                               .where(C.c.end_date <= business_date))).all()
    if not rows:
        return Plan([], [], None, 0)
    effective = await open_date(conn)
    accounts = await fa.page_accounts(conn, rows, _COMPLETION_ROLES)
    terms_of: dict[str, TermValues] = {}  # facilities of one product share their terms: parse each once
    plan = Plan([], [], str(rows[-1].facility_id), len(rows))

    def one(r) -> Item | None:
        cycle, acc = ls.cycle_from_row(r), accounts[str(r.facility_id)]
        terms = terms_of.get(r.terms_text) or terms_of.setdefault(r.terms_text,
                                                                   TermValues.model_validate_json(r.terms_text))
        posting = cycle.post(terms, r.maturity_date)
        if posting is None:
            return None
        postings = [] if posting.total_cents == 0 else [Posting(
            "CREDIT_FACILITY_POST_ACCRUED_INTEREST",
            {"interest_receivable_account_id": acc["interest_receivable_not_yet_due"],
             "interest_income_account_id": acc["interest_income"],
             "interest_added_omnibus_account_id": acc["interest_added_omnibus"],
             "uncovered_outstanding_account_id": acc["uncovered_outstanding"], "amount": posting.total_cents},
            f"cycle:{cycle.id}:post", effective(posting.effective))]
        return Item(str(r.facility_id), postings, (cycle, posting))

    for r in rows:
        decide(plan, str(r.facility_id), lambda r=r: one(r))
    return plan


def _obligation_created(p: CyclePosting, business_date: date) -> FacilityEvent:
    o, nxt = p.obligation, p.next_cycle
    assert o is not None
    return FacilityEvent(facility_id=p.facility_id, kind=FacilityEventKind.INTEREST_OBLIGATION_CREATED,
                         business_date=business_date, detail={
                             "obligation_id": o.id, "cycle_id": p.cycle_id, "amount_cents": o.amount_cents,
                             "due_date": str(o.dates.due_date), "next_cycle_id": nxt.id if nxt else None,
                             "next_accrual_period_end": str(nxt.next_period.end) if nxt and nxt.next_period else None})


async def persist_completions(conn: AsyncConnection, business_date: date, items: list[Item]) -> list[FacilityEvent]:
    postings: list[CyclePosting] = [it.decision[1] for it in items]
    await ls.save_cycles(conn, [it.decision[0] for it in items])
    await ls.insert_obligations(conn, [p.obligation for p in postings if p.obligation])
    await ls.insert_cycles(conn, [p.next_cycle for p in postings if p.next_cycle])
    events = [_obligation_created(p, business_date) for p in postings if p.obligation]
    # §3.6: the posted interest is part of the total outstanding; the CVL follows, set-based
    posted = {p.facility_id: p.total_cents for p in postings if p.obligation and p.total_cents}
    return events + await collateralization.outstanding_moved(conn, posted, business_date, reason="interest")
