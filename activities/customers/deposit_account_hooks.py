"""Hooks from the customer module into the customers' deposit accounts (customers-deposits.md §8.4, §9).

Both run inside the customer module's transaction, so the customer's event and the accounts'
changes commit together.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from activities.audit import record_system_action
from activities.customers.repository import load_customer, save_customer
from activities.deposits import accounts
from domain.customers.model import DepositAccountAction


async def apply_kyc_to_deposit_accounts(conn: AsyncConnection, customer_id: str, action: DepositAccountAction,
                                        reason: str, idempotency_key: str) -> bool:
    """Freeze/unfreeze every deposit account of the holder after a KYC review (closed ones skipped,
    ones already in the target state untouched), as system actor ``customer-sync``.

    Returns True when the request was newly applied, False on a replay of the same key.
    """
    customer = await load_customer(conn, customer_id)
    recorded = customer.request_deposit_action(action, reason, idempotency_key)
    await save_customer(conn, customer)
    if recorded:
        frozen = action == DepositAccountAction.FREEZE
        changed = await accounts.set_status_for_holder(conn, customer_id, frozen, "system:customer-sync", reason)
        for account_id in changed:
            await record_system_action(conn, f"deposit/deposit-account/{account_id}",
                                       f"deposit:deposit-account:{action.value}", subject="system:customer-sync")
    return recorded


async def apply_activity_to_deposit_accounts(conn: AsyncConnection, customer_id: str, activity: str) -> None:
    """Set the holder's new activity class on each of its deposit accounts (informational: it never
    blocks operations or changes an account's status, §9)."""
    await accounts.set_activity_for_holder(conn, customer_id, activity)
