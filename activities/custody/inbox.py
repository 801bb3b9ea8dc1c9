"""The custody inbox (custody-price-reports.md §0 "Inbox"): a verified notification is stored once,
keyed by the provider's own event identity, before anything acts on it.

``store`` inserts the row or finds the stored one (a replay); the wallet workflow marks rows
``COMPLETED`` in the transaction that applied their balance; a notice whose wallet stays unknown
after the bounded retries is ``FAILED`` with the reason. Rows are readable at once through
``GET /api/v1/custodian-webhook-events/{id}``.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from activities.custody.tables import inbox, wallets
from domain.custody.model import WebhookNotice
from domain.custody.sync_messages import InboxStatus


@dataclass(frozen=True)
class Stored:
    id: str
    created: bool  # False: a replay of a stored notification
    status: str
    wallet_id: str | None


async def store(conn: AsyncConnection, provider: str, notice: WebhookNotice, body: bytes,
                wallet_id: str | None) -> Stored:
    new_id = str(uuid.uuid4())
    row = (await conn.execute(
        insert(inbox).values(
            id=new_id, provider=provider, event_id=notice.event_id, external_wallet_id=notice.external_wallet_id,
            wallet_id=wallet_id, notice=dataclasses.asdict(notice), body=body.decode("utf-8", "replace"),
            status=InboxStatus.PENDING.value, received_at=func.now())
        .on_conflict_do_nothing(index_elements=["provider", "event_id"])
        .returning(inbox.c.id))).first()
    if row is not None:
        return Stored(new_id, True, InboxStatus.PENDING.value, wallet_id)
    old = (await conn.execute(select(inbox.c.id, inbox.c.status, inbox.c.wallet_id).where(
        inbox.c.provider == provider, inbox.c.event_id == notice.event_id))).one()
    return Stored(str(old.id), False, old.status, old.wallet_id and str(old.wallet_id))


async def get(conn: AsyncConnection, inbox_id: str):
    return (await conn.execute(select(inbox).where(inbox.c.id == inbox_id))).first()


async def wallet_for(conn: AsyncConnection, provider: str, external_wallet_id: str) -> str | None:
    """§1.7 spec rule: several wallets with one external id ⇒ the most recently created."""
    row = (await conn.execute(
        select(wallets.c.id).where(wallets.c.provider == provider, wallets.c.external_wallet_id == external_wallet_id)
        .order_by(wallets.c.created_at.desc(), wallets.c.id.desc()).limit(1))).first()
    return row and str(row.id)


async def attach_wallet(conn: AsyncConnection, inbox_id: str, wallet_id: str) -> None:
    await conn.execute(update(inbox).where(inbox.c.id == inbox_id).values(wallet_id=wallet_id))


async def complete(conn: AsyncConnection, inbox_ids: list[str]) -> None:
    if inbox_ids:
        await conn.execute(update(inbox).where(inbox.c.id.in_(inbox_ids), inbox.c.status != InboxStatus.COMPLETED.value)
                           .values(status=InboxStatus.COMPLETED.value, error=None, processed_at=func.now()))


async def fail(conn: AsyncConnection, inbox_id: str, error: str) -> None:
    await conn.execute(update(inbox).where(inbox.c.id == inbox_id, inbox.c.status == InboxStatus.PENDING.value)
                       .values(status=InboxStatus.FAILED.value, error=error[:2000], processed_at=func.now()))
