"""Event timelines (api-surface §13): ``GET /<resource>/{id}/events`` for every event-sourced entity.

Items ``{sequence, event_type, recorded_at, payload, audit_entry_id, subject}``, oldest first, keyset
pages on ``sequence``. ``payload`` is the stored event with every ``id``/``*_id`` key and every
UUID-valued string removed (as lana does: the timeline tells what happened, the resource reads give
the links). ``audit_entry_id`` is the audit entry written in the same database transaction as the
event for that entity (``events.tx_id`` = ``audit_entries.tx_id``, migration 0110), when there is
one: system actions recorded inside an operation. ``subject`` is who the event was done for: the
event's ``actor`` when it names one, else the linked entry's subject, else null.

Permission: the parent resource's read, on the entity's id; an entity without events is 404
``common.not_found``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlalchemy import text

from api.authz import Principal, require
from api.deps import ReadConn
from api.pagination import Page, PageParams, cursor_after, page_from, page_params
from domain.credit.disbursal import Disbursal
from domain.credit.facility import CreditFacility
from domain.credit.liquidation import Liquidation
from domain.credit.obligation import Obligation
from domain.credit.payment import Payment
from domain.customers.model import Customer
from domain.deposits.model import Deposit, DepositAccount, Withdrawal
from domain.errors import NotFound

router = APIRouter(tags=["event timelines"])

# (path segment, entity type in the events table, the parent's read permission, on its id?)
TIMELINES: list[tuple[str, str, str, bool]] = [
    ("customers", Customer.entity_type, "customer:customer:read", True),
    ("deposit-accounts", DepositAccount.entity_type, "deposit:deposit-account:read", True),
    ("deposits", Deposit.entity_type, "deposit:deposit:read", True),
    ("withdrawals", Withdrawal.entity_type, "deposit:withdrawal:read", True),
    ("credit-facility-proposals", CreditFacility.entity_type, "credit:credit-facility:read", True),
    ("pending-credit-facilities", CreditFacility.entity_type, "credit:credit-facility:read", True),
    ("credit-facilities", CreditFacility.entity_type, "credit:credit-facility:read", True),
    ("disbursals", Disbursal.entity_type, "credit:disbursal:read", True),
    ("obligations", Obligation.entity_type, "credit-collection:obligation:read", True),
    # a payment is read under its facility's permission (the operator routes do the same); its id
    # is not the facility's, so the check is on every facility
    ("payments", Payment.entity_type, "credit:credit-facility:read", False),
    ("liquidations", Liquidation.entity_type, "credit-collateral:liquidation:read", True),
    ("approval-processes", "approval_process", "governance:approval-process:read", True),
]


class TimelineEvent(BaseModel):
    sequence: int
    event_type: str
    recorded_at: datetime
    payload: dict[str, Any] = Field(description="The event without ids (every id/*_id key, every UUID string)")
    audit_entry_id: int | None = Field(description="The audit entry written with the event, if any")
    subject: str | None = Field(description="Who it was done for: the event's actor, else the audit entry's subject")


_SQL = text("""
    SELECT e.sequence, e.event_type, e.recorded_at, e.payload, a.id AS audit_entry_id, a.subject AS audit_subject
    FROM events e
    LEFT JOIN LATERAL (
        SELECT id, subject FROM audit_entries a
        WHERE a.tx_id = e.tx_id AND right(a.object, length(e.entity_id) + 1) = '/' || e.entity_id
        ORDER BY a.id LIMIT 1) a ON true
    WHERE e.entity_type = :t AND e.entity_id = :id AND e.sequence > :after
    ORDER BY e.sequence LIMIT :n""")
_EXISTS = text("SELECT EXISTS (SELECT 1 FROM events WHERE entity_type = :t AND entity_id = :id)")


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return len(value) >= 32


def strip_ids(value: Any) -> Any:
    """``value`` without ``id``/``*_id`` keys and UUID-valued strings, at every depth."""
    if isinstance(value, dict):
        return {k: strip_ids(v) for k, v in value.items()
                if k != "id" and not k.endswith("_id") and not (isinstance(v, str) and _is_uuid(v))}
    if isinstance(value, list):
        return [strip_ids(v) for v in value if not (isinstance(v, str) and _is_uuid(v))]
    return value


def _subject(payload: dict, audit_subject: str | None) -> str | None:
    actor = payload.get("actor")
    return actor if isinstance(actor, str) and actor else audit_subject


async def timeline_page(conn, entity_type: str, entity_id: str, page: PageParams) -> Page[TimelineEvent]:
    """One page of an entity's events with their audit link; 404 when it has none."""
    after = cursor_after(page, int)
    rows = (await conn.execute(_SQL, {"t": entity_type, "id": entity_id, "after": after[0] if after else 0,
                                      "n": page.first + 1})).all()
    if not rows and after is None and not (await conn.execute(_EXISTS, {"t": entity_type, "id": entity_id})).scalar():
        raise NotFound(f"No {entity_type.replace('_', ' ')} {entity_id}.")
    return page_from(rows, page, lambda r: (r.sequence,), lambda r: TimelineEvent(
        sequence=r.sequence, event_type=r.event_type, recorded_at=r.recorded_at, payload=strip_ids(r.payload),
        audit_entry_id=r.audit_entry_id, subject=_subject(r.payload, r.audit_subject)))


def _route(segment: str, entity_type: str, permission: str, on_id: bool) -> None:
    @router.get(f"/{segment}/{{entity_id}}/events", response_model=Page[TimelineEvent],
                responses={404: {"description": "No such entity (`common.not_found`)"}},
                summary=f"Event timeline of one of /{segment}, oldest first",
                name=f"{segment}_events")
    async def events(entity_id: uuid.UUID, conn: ReadConn, page: PageParams = Depends(page_params),
                     principal: Principal = require(permission, id_param="entity_id" if on_id else None),
                     ) -> Page[TimelineEvent]:
        return await timeline_page(conn, entity_type, str(entity_id), page)


for _args in TIMELINES:
    _route(*_args)
