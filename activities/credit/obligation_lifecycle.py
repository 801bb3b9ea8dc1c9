"""End-of-day step ``obligation_transitions`` (credit.md §7.2–§7.3; contract:
``domain.credit.end_of_day``; how a page runs: ``batch.py``).

Selects the obligations whose next transition date is on or before D (keyset on the obligation
id), lets each catch up through every transition due (not yet due → due → overdue → defaulted) and
posts one reclassification per transition (B5.6: the current outstanding moves between the
facility's receivable accounts; key ``obligation:{id}:{due|overdue|defaulted}``, effective the
transition's own date). The facility hears one event per transition. A defaulted balance leaves
the total outstanding (``collateralization.outstanding_moved``).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from activities.credit import collateralization
from activities.credit import facility_accounts as fa
from activities.credit import lifecycle_store as ls
from activities.credit.batch import Item, Plan, Posting, decide, key_in, keyset_keys, nth_key, open_date
from activities.credit.tables import facilities, obligations
from domain.credit.end_of_day import FacilityEvent, FacilityEventKind
from domain.credit.obligation import RECEIVABLE_ROLES, Transition, reclassification
from domain.credit.status import ObligationStatus

OB, F = obligations, facilities
_KIND = {ObligationStatus.DUE: FacilityEventKind.OBLIGATION_DUE,
         ObligationStatus.OVERDUE: FacilityEventKind.OBLIGATION_OVERDUE,
         ObligationStatus.DEFAULTED: FacilityEventKind.OBLIGATION_DEFAULTED}


_ROLES = tuple(role for roles in RECEIVABLE_ROLES.values() for role in roles.values())


def _due(business_date: date):
    return lambda t: [t.c.next_transition_date <= business_date]


async def transitions_end(conn: AsyncConnection, business_date: date, after: str | None, limit: int) -> str | None:
    return await nth_key(conn, OB, "id", _due(business_date), after, limit)


async def plan_transitions(conn: AsyncConnection, business_date: date, after: str | None, limit: int,
                           until: str | None = None) -> Plan:
    keys = await keyset_keys(conn, OB, "id", _due(business_date), after, limit, until)
    if not keys:
        return Plan([], [], None, 0)
    rows = (await conn.execute(
        select(OB, *fa.role_columns(_ROLES)).join(F, F.c.id == OB.c.facility_id)
        .where(key_in(OB.c.id, keys), OB.c.next_transition_date <= business_date)  # again, on the locked row
        .order_by(OB.c.id).with_for_update(of=OB))).all()
    effective = await open_date(conn)
    accounts = await fa.page_accounts(conn, rows, _ROLES)
    plan = Plan([], [], keys[-1], len(keys))

    def one(r) -> Item | None:
        o, acc = ls.obligation_from_row(r), accounts[str(r.facility_id)]
        transitions = o.advance(business_date)
        if not transitions:
            return None
        postings = []
        for t in transitions:
            template, roles = reclassification(t)
            postings.append(Posting(template, {**{p: acc[role] for p, role in roles.items()}, "amount": t.amount_cents},
                                    f"obligation:{o.id}:{t.to_status.value.lower()}", effective(t.effective)))
        return Item(o.id, postings, (o, transitions))

    for r in rows:
        decide(plan, str(r.id), lambda r=r: one(r))
    return plan


def _event(o, t: Transition, business_date: date) -> FacilityEvent:
    return FacilityEvent(facility_id=o.facility_id, kind=_KIND[t.to_status], business_date=business_date,
                         detail={"obligation_id": o.id, "obligation_type": o.obligation_type.value,
                                 "effective": str(t.effective), "amount_cents": t.amount_cents})


async def persist_transitions(conn: AsyncConnection, business_date: date, items: list[Item]) -> list[FacilityEvent]:
    await ls.save_obligations(conn, [it.decision[0] for it in items])
    events = [_event(o, t, business_date) for it in items for o, ts in [it.decision] for t in ts]
    defaulted: dict[str, int] = {}  # §3.1: a defaulted balance leaves the total outstanding
    for o, ts in (it.decision for it in items):
        for t in ts:
            if t.to_status is ObligationStatus.DEFAULTED:
                defaulted[o.facility_id] = defaulted.get(o.facility_id, 0) - t.amount_cents
    return events + await collateralization.outstanding_moved(conn, defaulted, business_date, reason="default")
