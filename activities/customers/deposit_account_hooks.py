"""Hooks from the customer module into the customers' deposit accounts.

The deposit module does not exist yet. Today these hooks only record the *intent* on the customer
(`deposit_accounts_action_requested` / `activity_classified` events), idempotently; the deposit
module will implement them: freeze or unfreeze every deposit account of the holder
(customers-deposits.md §8.4, closed accounts skipped) and set each account's activity class (§9).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from activities.customers.repository import load_customer, save_customer
from domain.customers.model import DepositAccountAction


async def apply_kyc_to_deposit_accounts(conn: AsyncConnection, customer_id: str, action: DepositAccountAction,
                                        reason: str, idempotency_key: str) -> bool:
    """Freeze/unfreeze the holder's deposit accounts after a KYC review (intent only, for now).

    Returns True when the request was newly recorded, False on a replay of the same key.
    """
    customer = await load_customer(conn, customer_id)
    recorded = customer.request_deposit_action(action, reason, idempotency_key)
    await save_customer(conn, customer)
    return recorded


async def apply_activity_to_deposit_accounts(conn: AsyncConnection, customer_id: str, activity: str) -> None:
    """Propagate a new activity class to the holder's deposit accounts.

    Intentionally empty until the deposit module exists: the class is already recorded on the
    customer (`activity_classified`), which is what the deposit module will read. Activity is
    informational (it never blocks operations or changes an account's status, §9).
    """
    return None
