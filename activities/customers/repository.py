"""Customer persistence: events and the `customers` read model, written in one transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from sqlalchemy import bindparam, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from activities import event_store
from activities.customers.tables import customers
from domain.customers.errors import (
    CustomerNotEligibleForProduct,
    CustomerNotFound,
    CustomerNotVerified,
    DuplicateEmail,
    DuplicateTelegramHandle,
)
from domain.customers.model import Customer, CustomerStatus, KycStatus


@asynccontextmanager
async def _unique_contact(conn: AsyncConnection, customer: Customer) -> AsyncIterator[None]:
    """Run a write of the row in a savepoint; a taken e-mail / Telegram handle → 409, nothing written."""
    try:
        async with conn.begin_nested():
            yield
    except IntegrityError as exc:
        message = str(exc.orig)
        if "uq_customers_telegram" in message:
            raise DuplicateTelegramHandle(f"Telegram handle {customer.telegram_handle!r} is taken.") from exc
        if "uq_customers_email" in message or "customers_pkey" in message:
            raise DuplicateEmail(f"E-mail {customer.email!r} is taken.") from exc
        raise


async def insert_customer(conn: AsyncConnection, customer: Customer, now: datetime | None = None) -> None:
    """Persist a new customer; duplicate e-mail / Telegram handle → 409 and nothing written."""
    now = now or datetime.now(UTC)
    async with _unique_contact(conn, customer):
        await conn.execute(insert(customers).values(
            id=customer.id, email=customer.email, telegram_handle=customer.telegram_handle,
            customer_type=customer.customer_type.value, kyc_status=customer.kyc_status.value,
            kyc_level=customer.kyc_level.value, activity=customer.activity.value, status=customer.status.value,
            last_activity_at=now, version=len(customer.pending), created_at=now, updated_at=now,
        ))
    await event_store.save_entity(conn, customer)


async def lock_customer(conn: AsyncConnection, customer_id: str) -> Customer:
    """Load the customer under its row lock (FOR UPDATE): the first lock of a customer command, before
    any deposit account or ledger lock (lock order customer → deposit account → ledger)."""
    row = (await conn.execute(text("SELECT id FROM customers WHERE id = CAST(:id AS uuid) FOR UPDATE"),
                              {"id": customer_id})).first()
    if row is None:
        raise CustomerNotFound(f"Customer {customer_id} does not exist.")
    return await load_customer(conn, customer_id)


async def load_customer(conn: AsyncConnection, customer_id: str) -> Customer:
    customer = await event_store.load_entity(conn, Customer, customer_id)
    if customer is None:
        raise CustomerNotFound(f"Customer {customer_id} does not exist.")
    return customer


async def save_customer(conn: AsyncConnection, customer: Customer) -> None:
    """Append pending events and refresh the read-model row (no-op when nothing changed)."""
    if not customer.pending:
        return
    await event_store.save_entity(conn, customer)
    async with _unique_contact(conn, customer):
        await conn.execute(update(customers).where(customers.c.id == customer.id).values(
            email=customer.email, telegram_handle=customer.telegram_handle,
            kyc_status=customer.kyc_status.value, kyc_level=customer.kyc_level.value,
            applicant_id=customer.applicant_id, activity=customer.activity.value, status=customer.status.value,
            version=customer.version, updated_at=func.now(),
        ))


async def record_customer_activity(conn: AsyncConnection, customer_id: str, at: datetime) -> None:
    """Move the customer's last activity forward to ``at`` (never backwards).

    Called by the deposit module, in its own transaction, for every deposit, withdrawal, payment or
    operator action on the customer's accounts (customers-deposits.md §9 lists the entry types).
    """
    await conn.execute(_ACTIVITY, {"b_customer_id": customer_id, "b_at": at})


_ACTIVITY = update(customers).where(
    customers.c.id == bindparam("b_customer_id"), customers.c.last_activity_at < bindparam("b_at"),
).values(last_activity_at=bindparam("b_at"), updated_at=func.now())


_CUSTOMER = select(customers).where(customers.c.id == bindparam("customer_id"))
_CUSTOMER_SHARED = _CUSTOMER.with_for_update(read=True)


async def customer_row(conn: AsyncConnection, customer_id: str, *, share_lock: bool = False):
    row = (await conn.execute(_CUSTOMER_SHARED if share_lock else _CUSTOMER, {"customer_id": customer_id})).first()
    if row is None:
        raise CustomerNotFound(f"Customer {customer_id} does not exist.")
    return row


async def ensure_customer_verified(conn: AsyncConnection, customer_id: str, *, kyc_required: bool):
    """Gate for the deposit and credit modules: opening a deposit account or a credit facility
    needs an Active customer (a Frozen or Closed one → 409 ``customer.not_eligible_for_product``,
    §4.3) and, while the `kyc_required` setting is on (default), a `Verified` one. Returns the
    customer's row.

    The customer's row is read FOR SHARE, so a concurrent close (FOR UPDATE) either waits for the
    new product or sees it, and a product opened after the close sees the Closed status."""
    row = await customer_row(conn, customer_id, share_lock=True)
    if row.status != CustomerStatus.ACTIVE.value:
        raise CustomerNotEligibleForProduct(
            f"Customer {customer_id} is {row.status}: it cannot take a new product.",
            customer_status=row.status)
    if kyc_required and row.kyc_status != KycStatus.VERIFIED.value:
        raise CustomerNotVerified(
            f"Customer {customer_id} has KYC status {row.kyc_status}; a Verified customer is required.",
            kyc_status=row.kyc_status,
        )
    return row
