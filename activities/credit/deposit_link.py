"""Where a facility disburses to: the customer's deposit account (its main ledger account).

A deposit account's id is its main ledger account's id (deposit module), so the link is the
holder's account id. A closed account cannot receive a disbursal.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncConnection

from activities.deposits.accounts import holder_account_ids
from domain.credit.errors import DepositAccountNotFound


async def deposit_ledger_account(conn: AsyncConnection, customer_id: str | uuid.UUID) -> uuid.UUID:
    ids = await holder_account_ids(conn, str(customer_id))
    if not ids:
        raise DepositAccountNotFound(f"Customer {customer_id} has no open deposit account.", field="customer_id")
    return uuid.UUID(ids[0])
