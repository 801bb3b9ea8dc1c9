"""Customer commands (api-surface §4 C7–C11): one PostgreSQL transaction each, under the customer's
row lock, taken first (lock order customer → deposit account → ledger).

The rules are the aggregate's (``domain/customers/model.py``); these functions load, call, save.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import and_, bindparam, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from activities.credit.tables import facilities
from activities.customers.deposit_account_hooks import hold_deposit_accounts
from activities.customers.repository import lock_customer, save_customer
from activities.customers.tables import customers
from activities.deposits.store import deposit_accounts, withdrawals
from domain.credit.status import FacilityStatus, PendingStatus, ProposalStatus, Stage
from domain.customers.errors import CustomerNotFound
from domain.customers.model import ContactField, Customer, OpenProducts
from domain.deposits.model import RESERVED, AccountStatus


async def update_contact(conn: AsyncConnection, customer_id: str, contact: ContactField, value: str,
                         actor: str) -> bool:
    """New e-mail / Telegram handle (unique: a taken one → 409); False when unchanged."""
    customer = await lock_customer(conn, customer_id)
    changed = customer.update_contact(contact, value, actor)
    await save_customer(conn, customer)
    return changed


async def set_frozen(conn: AsyncConnection, customer_id: str, command: Callable[[Customer, str], bool],
                     actor: str) -> bool:
    """``Customer.freeze`` / ``Customer.unfreeze``, with the deposit accounts following in the same
    transaction (``hold_deposit_accounts``); False when already in that state (nothing touched)."""
    customer = await lock_customer(conn, customer_id)
    changed = command(customer, actor)
    await save_customer(conn, customer)
    if changed:
        verb = command.__name__
        await hold_deposit_accounts(conn, customer, actor, f"{verb} of customer {customer_id} by {actor}")
    return changed


def _open_products_query():
    """What still blocks closing a customer, as one statement built once (three scalar subqueries)."""
    f, a, w = facilities, deposit_accounts, withdrawals
    customer = bindparam("customer_id", type_=f.c.customer_id.type)
    counts = select(
        func.count().filter(and_(f.c.stage == Stage.ACTIVE.value,
                                 func.coalesce(f.c.status, "") != FacilityStatus.CLOSED.value)),
        func.count().filter(and_(f.c.stage == Stage.PROPOSAL.value,
                                 f.c.proposal_status.notin_([ProposalStatus.APPROVED.value,
                                                             ProposalStatus.DENIED.value]))),
        func.count().filter(and_(f.c.stage == Stage.PENDING.value,
                                 or_(f.c.pending_status.is_(None),
                                     f.c.pending_status != PendingStatus.COMPLETED.value))),
    ).where(f.c.customer_id == customer).subquery()
    open_accounts = select(func.count()).where(
        a.c.holder_id == customer, a.c.status != AccountStatus.CLOSED.value).scalar_subquery()
    pending_withdrawals = select(func.count()).select_from(w.join(a, a.c.id == w.c.deposit_account_id)).where(
        a.c.holder_id == customer, w.c.status.in_([s.value for s in RESERVED])).scalar_subquery()
    return select(*counts.c, open_accounts, pending_withdrawals)


_OPEN_PRODUCTS = _open_products_query()
_PRODUCT_COUNTS = ("active_credit_facilities", "pending_credit_facility_proposals", "pending_credit_facilities",
                   "open_deposit_accounts", "pending_withdrawals")
# A customer's read-model row and its open products in one statement (the single customer read).
_WITH_OPEN_PRODUCTS = select(customers, *[c.label(f"open_{name}") for c, name in zip(
    _OPEN_PRODUCTS.subquery().c, _PRODUCT_COUNTS, strict=True)]).where(customers.c.id == bindparam("customer_id"))


async def open_products(conn: AsyncConnection, customer_id: str) -> OpenProducts:
    """Count what still blocks closing the customer (customers-deposits.md §4.2)."""
    row = (await conn.execute(_OPEN_PRODUCTS, {"customer_id": customer_id})).one()
    return OpenProducts(**dict(zip(_PRODUCT_COUNTS, row, strict=True)))


async def customer_with_open_products(conn: AsyncConnection, customer_id: str):
    """The customer's row and its ``OpenProducts``, or ``CustomerNotFound``."""
    row = (await conn.execute(_WITH_OPEN_PRODUCTS, {"customer_id": customer_id})).first()
    if row is None:
        raise CustomerNotFound(f"Customer {customer_id} does not exist.")
    return row, OpenProducts(**{name: getattr(row, f"open_{name}") for name in _PRODUCT_COUNTS})


async def close(conn: AsyncConnection, customer_id: str, actor: str) -> bool:
    """Close (terminal) once nothing is open; False when already closed."""
    customer = await lock_customer(conn, customer_id)
    changed = customer.close(await open_products(conn, customer_id), actor)
    await save_customer(conn, customer)
    return changed
