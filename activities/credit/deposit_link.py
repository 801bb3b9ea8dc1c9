"""Where a facility disburses to: the customer's deposit account (its main ledger account).

A deposit account's id is its main ledger account's id (deposit module), so the link is the
holder's account id. Only an active account can take a new proposal or disbursal (credit.md §4.1,
§5.1): a frozen one (a KYC rejection, or an operator's freeze) or a closed one is refused with
``credit.deposit_account_not_active``; the rule is ``facility.ensure_deposit_account_active``.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from activities.deposits.store import deposit_accounts
from domain.credit.errors import DepositAccountNotFound
from domain.credit.facility import ensure_deposit_account_active
from domain.deposits.model import AccountStatus


async def deposit_ledger_account(conn: AsyncConnection, customer_id: str | uuid.UUID) -> uuid.UUID:
    """The customer's active deposit account; refused when there is none, or none is active."""
    t = deposit_accounts
    rows = (await conn.execute(select(t.c.id, t.c.status).where(t.c.holder_id == str(customer_id))
                               .order_by(t.c.id))).all()
    if not rows:
        raise DepositAccountNotFound(f"Customer {customer_id} has no open deposit account.", field="customer_id")
    usable = next((r for r in rows if r.status == AccountStatus.ACTIVE.value), rows[0])
    ensure_deposit_account_active(str(usable.id), usable.status)
    return uuid.UUID(str(usable.id))


async def ensure_disbursable(conn: AsyncConnection, deposit_account_id: str) -> None:
    """The facility's deposit account can still receive a disbursal (refused otherwise)."""
    t = deposit_accounts
    status = (await conn.execute(select(t.c.status).where(t.c.id == deposit_account_id))).scalar_one_or_none()
    if status is None:
        raise DepositAccountNotFound(f"Deposit account {deposit_account_id} does not exist.")
    ensure_deposit_account_active(deposit_account_id, status)
