"""Load and save custodians (events + the ``custody_custodians`` read model) and wallets
(``custody_wallets``, entity type ``custody_wallet``), in the caller's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from activities import event_store
from activities.custody.tables import custodians, wallets
from domain.custody.custodian import Custodian, CustodianAlreadyExists
from domain.custody.model import CustodianNotFound, InitializedWallet

WALLET_ENTITY = "custody_wallet"


async def insert_custodian(conn: AsyncConnection, c: Custodian) -> bool:
    """Insert the row and the events; False when this very custodian (same id, name and provider)
    is already stored (a replayed create). Another custodian with the name or provider ⇒
    ``CustodianAlreadyExists``."""
    row = (await conn.execute(insert(custodians).values(
        id=c.id, name=c.name, provider=c.provider.value, encrypted_config=c.encrypted_config, key_id=c.key_id,
        next_receive_index=c.next_receive_index, version=c.version + len(c.pending), created_by=c.created_by,
    ).on_conflict_do_nothing().returning(custodians.c.id))).first()
    if row is None:
        clash = (await conn.execute(select(custodians.c.id, custodians.c.name, custodians.c.provider).where(
            (custodians.c.id == c.id) | (custodians.c.name == c.name) | (custodians.c.provider == c.provider.value)
        ))).all()
        if any(r.id == c.id and r.name == c.name and r.provider == c.provider.value for r in clash):
            return False
        what = "provider" if any(r.provider == c.provider.value for r in clash) else "name"
        raise CustodianAlreadyExists(
            f"a custodian with this {what} already exists ({c.provider.value!r}, {c.name!r}); "
            "there is at most one custodian per provider")
    await event_store.save_entity(conn, c)
    return True


async def load_custodian(conn: AsyncConnection, custodian_id: str, *, lock: bool = False) -> Custodian:
    if lock:
        found = (await conn.execute(text("SELECT 1 FROM custody_custodians WHERE id = CAST(:id AS uuid) FOR UPDATE"),
                                    {"id": custodian_id})).first()
        if found is None:
            raise CustodianNotFound(f"Custodian {custodian_id} does not exist.")
    c = await event_store.load_entity(conn, Custodian, custodian_id)
    if c is None:
        raise CustodianNotFound(f"Custodian {custodian_id} does not exist.")
    return c


async def custodian_by_provider(conn: AsyncConnection, provider: str) -> Custodian | None:
    """The custodian of a provider (at most one, §1.2), or None (a webhook for it is then ignored)."""
    row = (await conn.execute(select(custodians.c.id).where(custodians.c.provider == provider))).first()
    return None if row is None else await event_store.load_entity(conn, Custodian, str(row.id))


async def save_custodian(conn: AsyncConnection, c: Custodian) -> None:
    if not c.pending:
        return
    await event_store.save_entity(conn, c)
    await conn.execute(update(custodians).where(custodians.c.id == c.id).values(
        encrypted_config=c.encrypted_config, key_id=c.key_id, next_receive_index=c.next_receive_index,
        version=c.version, updated_at=func.now()))


async def custodian_exists(conn: AsyncConnection, custodian_id: str) -> bool:
    return (await conn.execute(select(custodians.c.id).where(custodians.c.id == custodian_id))).first() is not None


async def ids_not_under(conn: AsyncConnection, key_id: str) -> list[str]:
    rows = await conn.execute(select(custodians.c.id).where(
        custodians.c.encrypted_config.is_not(None), custodians.c.key_id.is_distinct_from(key_id))
        .order_by(custodians.c.created_at, custodians.c.id))
    return [str(r.id) for r in rows]


async def wallet_of_facility(conn: AsyncConnection, facility_id: str) -> Any:
    return (await conn.execute(select(wallets).where(wallets.c.facility_id == facility_id))).first()


async def insert_wallet(conn: AsyncConnection, wallet_id: str, c: Custodian, facility_id: str, collateral_id: str,
                        w: InitializedWallet, receive_index: int | None) -> bool:
    """The facility's wallet row and its ``initialized`` event; False when the facility has one."""
    row = (await conn.execute(insert(wallets).values(
        id=wallet_id, custodian_id=c.id, provider=c.provider.value, facility_id=facility_id,
        collateral_id=collateral_id, external_wallet_id=w.external_wallet_id, address=w.address,
        network=w.network.value, receive_index=receive_index, custodian_response=w.custodian_response, version=1,
    ).on_conflict_do_nothing(index_elements=["facility_id"]).returning(wallets.c.id))).first()
    if row is None:
        return False
    await event_store.append(conn, WALLET_ENTITY, wallet_id, 0, [("initialized", {
        "id": wallet_id, "custodian_id": c.id, "provider": c.provider.value, "facility_id": facility_id,
        "collateral_id": collateral_id, "external_wallet_id": w.external_wallet_id, "address": w.address,
        "network": w.network.value, "receive_index": receive_index, "custodian_response": w.custodian_response})])
    return True
