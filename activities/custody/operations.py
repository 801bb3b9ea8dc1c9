"""Custodian commands, one transaction each (custody-price-reports.md §1.4–§1.6).

The config crosses this module only as a parsed model (secrets as ``SecretStr``) and leaves it only
encrypted (``secrets.Keyring``). Nothing here logs a config.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from activities import audit
from activities.credit.tables import facilities as credit_facilities
from activities.custody import store
from activities.custody.clients import client_for
from activities.custody.secrets import Keyring, custodian_context
from domain.credit.errors import FacilityNotFound
from domain.custody.config import MockConfig, config_from_plaintext, config_plaintext
from domain.custody.custodian import Custodian
from domain.custody.model import MOCK_CUSTODIAN_ID, CustodianNotFound, Provider
from ground.settings import Settings

log = structlog.get_logger(__name__)

ROTATION_SUBJECT = "system:custody-key-rotation"
MOCK_NAME = "Mock Custodian"
_WALLET_NS = uuid.UUID("5d0c8a43-92b7-4c1e-9a55-0c5b3b6f2a11")
LOCAL_PROVIDERS = frozenset({Provider.SELF_CUSTODY, Provider.MOCK, Provider.MANUAL})  # no provider I/O


def wallet_id_for(facility_id: str) -> str:
    """A facility's wallet id, from its business identity (a retried step names the same wallet)."""
    return str(uuid.uuid5(_WALLET_NS, facility_id))


def encrypt(keyring: Keyring, custodian_id: str, config) -> dict[str, str]:
    return keyring.encrypt(config_plaintext(config), context=custodian_context(custodian_id))


def decrypted_config(keyring: Keyring, c: Custodian):
    if c.encrypted_config is None:
        return config_from_plaintext(c.provider, b"{}")
    return config_from_plaintext(c.provider, keyring.decrypt(c.encrypted_config, context=custodian_context(c.id)))


def client_of(keyring: Keyring, c: Custodian, settings: Settings, *,
              transport: httpx.AsyncBaseTransport | None = None):
    return client_for(c.provider, decrypted_config(keyring, c), settings, transport=transport)


async def create_custodian(conn: AsyncConnection, keyring: Keyring, custodian_id: str, name: str,
                           provider: Provider, config, actor: str) -> Custodian:
    """Store a new custodian (verification, when on, happens before: nothing is stored on failure).
    A replay of the same create returns the stored custodian."""
    c = Custodian.create(custodian_id, name, provider, encrypt(keyring, custodian_id, config), actor)
    if not await store.insert_custodian(conn, c):
        return await store.load_custodian(conn, custodian_id)
    return c


async def update_config(conn: AsyncConnection, keyring: Keyring, custodian_id: str, config) -> Custodian:
    """Replace the credentials (§1.5): no verification; a no-op when the identical config is stored
    under the current key; a value under an unknown key is ``StaleEncryptionKey``."""
    c = await store.load_custodian(conn, custodian_id, lock=True)
    c.check_config_kind(config.type)
    if keyring.is_current(c.encrypted_config) and \
            config_plaintext(decrypted_config(keyring, c)) == config_plaintext(config):
        return c
    if c.encrypted_config is not None:
        decrypted_config(keyring, c)  # StaleEncryptionKey before anything is replaced
    c.update_config(encrypt(keyring, c.id, config))
    await store.save_custodian(conn, c)
    return c


async def ensure_mock_custodian(conn: AsyncConnection, keyring: Keyring) -> Custodian:
    """The mock custodian (nil id, provider ``mock``, "Mock Custodian"), created once."""
    if await store.custodian_exists(conn, MOCK_CUSTODIAN_ID):
        return await store.load_custodian(conn, MOCK_CUSTODIAN_ID)
    return await create_custodian(conn, keyring, MOCK_CUSTODIAN_ID, MOCK_NAME, Provider.MOCK, MockConfig(),
                                  "system:custody")


async def check_custodian_for_proposal(conn: AsyncConnection, custodian_id: str | None, settings: Settings,
                                       keyring: Keyring | None = None) -> None:
    """§1.6 Spec rule: a proposal naming an unknown custodian is refused at creation. The mock
    custodian is created on first use where it is enabled."""
    if custodian_id is None:
        return
    if custodian_id == MOCK_CUSTODIAN_ID and settings.custody_mock:
        if keyring is not None:
            await ensure_mock_custodian(conn, keyring)
        return
    if not await store.custodian_exists(conn, custodian_id):
        raise CustodianNotFound(f"Custodian {custodian_id} does not exist.")


async def rotate_encryption_key(engine: AsyncEngine, keyring: Keyring) -> int:
    """Re-encrypt every custodian not yet under the current key (§1.4). One transaction: the audit
    entry (``system:custody-key-rotation`` on ``custody/custodian/*``) and every re-encryption
    commit together. Idempotent: once all are under the current key it writes nothing (not even the
    audit entry) and returns 0. A value under a key that is neither ⇒ ``StaleEncryptionKey``."""
    async with engine.begin() as conn:
        ids = await store.ids_not_under(conn, keyring.current_id)
        if not ids:
            return 0
        await audit.record_system_action(conn, "custody/custodian/*", "custody:custodian:update",
                                         subject=ROTATION_SUBJECT)
        rotated = 0
        for custodian_id in ids:
            c = await store.load_custodian(conn, custodian_id, lock=True)
            if keyring.is_current(c.encrypted_config):
                continue
            c.update_config(encrypt(keyring, c.id, decrypted_config(keyring, c)))
            await store.save_custodian(conn, c)
            rotated += 1
    log.info("custody.key_rotated", custodians=rotated, key_id=keyring.current_id,
             deprecated_key_id=keyring.deprecated_id)
    return rotated


# -- wallets --------------------------------------------------------------------------------------------

def wallet_view(row) -> dict[str, Any]:
    return {"wallet_id": str(row.id), "address": row.address, "network": row.network,
            "custodian_id": str(row.custodian_id), "provider": row.provider,
            "external_wallet_id": row.external_wallet_id}


async def create_wallet(engine: AsyncEngine, keyring: Keyring, settings: Settings, facility_id: str, *,
                        transport: httpx.AsyncBaseTransport | None = None) -> dict[str, Any] | None:
    """The facility's wallet at its custodian, created once (§1.6): the existing one when the
    facility has it; ``None`` when the facility names no custodian or the custodian keeps no wallets
    (manual). Self-custody and the mock need no provider call: the receive index is allocated under
    the custodian's row lock and the wallet stored in the same transaction (an index is never
    reused). BitGo and Komainu are called outside any transaction, then the wallet is stored; a
    concurrent or retried step that stored one first wins (``facility_id`` is unique)."""
    label = f"CF {facility_id}"
    wallet_id = wallet_id_for(facility_id)
    async with engine.begin() as conn:
        existing = await store.wallet_of_facility(conn, facility_id)
        if existing is not None:
            return wallet_view(existing)
        facility = (await conn.execute(select(credit_facilities.c.custodian_id, credit_facilities.c.collateral_id)
                                       .where(credit_facilities.c.id == facility_id))).first()
        if facility is None:
            raise FacilityNotFound(f"Credit facility {facility_id} does not exist.")
        if facility.custodian_id is None:
            return None
        custodian_id, collateral_id = str(facility.custodian_id), str(facility.collateral_id)
        if custodian_id == MOCK_CUSTODIAN_ID and settings.custody_mock:
            await ensure_mock_custodian(conn, keyring)
        c = await store.load_custodian(conn, custodian_id, lock=True)
        existing = await store.wallet_of_facility(conn, facility_id)  # a concurrent step was first
        if existing is not None:
            return wallet_view(existing)
        client = client_of(keyring, c, settings, transport=transport)
        if c.provider in LOCAL_PROVIDERS:
            index = c.allocate_receive_index() if c.provider is Provider.SELF_CUSTODY else None
            w = await client.initialize_wallet(label, index)
            if w is None:
                return None
            await store.insert_wallet(conn, wallet_id, c, facility_id, collateral_id, w, index)
            await store.save_custodian(conn, c)
            return wallet_view(await store.wallet_of_facility(conn, facility_id))
    w = await client.initialize_wallet(label, None)
    if w is None:
        return None
    async with engine.begin() as conn:
        await store.insert_wallet(conn, wallet_id, c, facility_id, collateral_id, w, None)
        return wallet_view(await store.wallet_of_facility(conn, facility_id))

