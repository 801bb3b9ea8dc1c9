"""Hooks from the customer module into the customers' deposit accounts (customers-deposits.md §4, §8.4, §9).

All run inside the customer module's transaction, after the customer's row lock (lock order
customer → deposit account → ledger), so the customer's event and the accounts' changes commit
together.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from activities.audit import record_system_action
from activities.customers.repository import lock_customer, save_customer
from activities.deposits import accounts
from domain.customers.model import Customer, DepositAccountAction

SYNC_ACTOR = "system:customer-sync"


async def hold_deposit_accounts(conn: AsyncConnection, customer: Customer, actor: str, reason: str) -> list[str]:
    """Bring every deposit account of the holder to what the customer calls for: frozen while it holds
    them (customer Frozen, or a KYC RED), active otherwise. Closed accounts are skipped, ones already in
    the target state untouched; each account changed is audited as system actor ``customer-sync``
    (the account's event names ``actor``). Returns the ids changed."""
    frozen = customer.holds_deposit_accounts
    action = DepositAccountAction.FREEZE if frozen else DepositAccountAction.UNFREEZE
    changed = await accounts.set_status_for_holder(conn, customer.id, frozen, actor, reason)
    for account_id in changed:
        await record_system_action(conn, f"deposit/deposit-account/{account_id}",
                                   f"deposit:deposit-account:{action.value}", subject=SYNC_ACTOR)
    return changed


async def apply_kyc_to_deposit_accounts(conn: AsyncConnection, customer_id: str, action: DepositAccountAction,
                                        reason: str, idempotency_key: str) -> bool:
    """Freeze/unfreeze every deposit account of the holder after a KYC review, as system actor
    ``customer-sync``. A GREEN leaves them frozen while the customer itself is Frozen.

    Returns True when the request was newly applied, False on a replay of the same key.
    """
    customer = await lock_customer(conn, customer_id)
    recorded = customer.request_deposit_action(action, reason, idempotency_key)
    await save_customer(conn, customer)
    if recorded:
        await hold_deposit_accounts(conn, customer, SYNC_ACTOR, reason)
    return recorded


async def apply_activity_to_deposit_accounts(conn: AsyncConnection, customer_id: str, activity: str) -> None:
    """Set the holder's new activity class on each of its deposit accounts (informational: it never
    blocks operations or changes an account's status, §9)."""
    await accounts.set_activity_for_holder(conn, customer_id, activity)
