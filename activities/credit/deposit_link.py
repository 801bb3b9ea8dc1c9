"""Where a facility disburses to: the customer's deposit account (its ledger account id).

Interface to the deposit module (built in parallel). Looks in its ``deposit_accounts`` table when it
exists; otherwise (and as a fallback) finds the ledger account by the spec's external id
``deposit-customer-account:{customer_id}`` (ledger.md B3.1). To be reconciled at merge.
"""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from activities import ledger
from domain.credit.facility import DepositAccountNotFound


def deposit_external_id(customer_id: str | uuid.UUID) -> str:
    return f"deposit-customer-account:{customer_id}"


async def deposit_ledger_account(conn: AsyncConnection, customer_id: str | uuid.UUID) -> uuid.UUID:
    exists = (await conn.execute(text("SELECT to_regclass('deposit_accounts') IS NOT NULL"))).scalar_one()
    if exists:
        row = (await conn.execute(text(
            "SELECT ledger_account_id FROM deposit_accounts WHERE customer_id = :c ORDER BY created_at LIMIT 1"),
            {"c": str(customer_id)})).first()
        if row is not None:
            return uuid.UUID(str(row[0]))
    account = await ledger.find_account_by_external_id(conn, deposit_external_id(customer_id))
    if account is None:
        raise DepositAccountNotFound(f"Customer {customer_id} has no deposit account.", field="customer_id")
    return account["id"]
