"""Custodian config encryption keys: rotation at start-up (audited, idempotent) and values under an
unknown key (a clear error naming the key id)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from activities.custody import operations, store
from activities.custody.secrets import Keyring, key_id, keyring_from_settings
from domain.custody.config import CorruptEncryptedValue, SelfCustodyConfig, parse_config
from domain.custody.model import Network, Provider, StaleEncryptionKey
from ground.settings import Settings
from tests.integration.custody.test_adapters import BIP84_ZPUB
from workers.custody_cli import start_up

OLD, NEW, OTHER = b"\x01" * 32, b"\x02" * 32, b"\x03" * 32


def test_keys_come_from_settings_and_are_checked(tmp_path):
    ring = keyring_from_settings(Settings(custody_encryption_key=NEW.hex(), custody_deprecated_encryption_key=OLD.hex()))
    assert (ring.current_id, ring.deprecated_id) == (key_id(NEW), key_id(OLD))
    assert ring.current_id == __import__("hashlib").sha256(NEW).digest()[:8].hex()
    assert NEW.hex() not in repr(ring)
    with pytest.raises(ValueError, match="64 hex"):
        keyring_from_settings(Settings(custody_encryption_key="abc"))
    with pytest.raises(ValueError, match="LANA_CUSTODY_ENCRYPTION_KEY"):
        keyring_from_settings(Settings(environment="production", data_dir=tmp_path))
    dev = keyring_from_settings(Settings(data_dir=tmp_path))  # development: generated once, then stable
    assert keyring_from_settings(Settings(data_dir=tmp_path)).current_id == dev.current_id


def test_a_value_is_bound_to_its_key_and_its_custodian():
    ring = Keyring(NEW)
    value = ring.encrypt(b'{"a":1}', context="custodian:1")
    assert ring.decrypt(value, context="custodian:1") == b'{"a":1}'
    with pytest.raises(CorruptEncryptedValue):
        ring.decrypt(value, context="custodian:2")
    with pytest.raises(StaleEncryptionKey) as stale:
        Keyring(OTHER).decrypt(value, context="custodian:1")
    assert key_id(NEW) in stale.value.detail


async def _custodians(engine, ring: Keyring) -> list[str]:
    ids = []
    async with engine.begin() as conn:
        for provider, config in ((Provider.SELF_CUSTODY, SelfCustodyConfig(account_xpub=BIP84_ZPUB,
                                                                           network=Network.MAINNET)),
                                 (Provider.MANUAL, parse_config(Provider.MANUAL, {}))):
            cid = str(uuid.uuid4())
            await operations.create_custodian(conn, ring, cid, provider.value, provider, config, "user:op")
            ids.append(cid)
    return ids


async def test_start_up_with_a_deprecated_key_re_encrypts_once_and_audits(engine):
    ids = await _custodians(engine, Keyring(OLD))
    settings = Settings(custody_encryption_key=NEW.hex(), custody_deprecated_encryption_key=OLD.hex(),
                        custody_mock_enabled=False)
    assert await start_up(engine, settings) == 2
    assert await start_up(engine, settings) == 0  # a second start does nothing
    async with engine.connect() as conn:
        audits = (await conn.execute(text(
            "SELECT subject, object, action FROM audit_entries WHERE subject = 'system:custody-key-rotation'"))).all()
        keys = {r.key_id for r in (await conn.execute(text("SELECT key_id FROM custody_custodians"))).all()}
        c = await store.load_custodian(conn, ids[0])
        updates = (await conn.execute(text("SELECT count(*) FROM events WHERE entity_id = :id AND "
                                           "event_type = 'config_updated'"), {"id": ids[0]})).scalar_one()
    assert [tuple(a) for a in audits] == [("system:custody-key-rotation", "custody/custodian/*",
                                           "custody:custodian:update")]
    assert keys == {key_id(NEW)} and updates == 2
    # readable under the new key alone, same config as before
    config = operations.decrypted_config(Keyring(NEW), c)
    assert config.account_xpub == BIP84_ZPUB
    # a process that knows neither key fails clearly, naming the key id
    with pytest.raises(StaleEncryptionKey, match=key_id(NEW)):
        operations.decrypted_config(Keyring(OTHER), c)


async def test_rotation_refuses_a_value_under_an_unknown_key(engine):
    await _custodians(engine, Keyring(OTHER))
    with pytest.raises(StaleEncryptionKey):
        await operations.rotate_encryption_key(engine, Keyring(NEW, OLD))
    async with engine.connect() as conn:  # nothing half-done: the one transaction rolled back
        assert (await conn.execute(text("SELECT count(*) FROM audit_entries WHERE subject = "
                                        "'system:custody-key-rotation'"))).scalar_one() == 0


def test_the_mock_custodian_is_refused_in_production():
    assert Settings().custody_mock and not Settings(environment="production").custody_mock
    with pytest.raises(ValueError, match="refused in production"):
        Settings(environment="production", custody_mock_enabled=True).custody_mock  # noqa: B018


def test_gen_key_prints_a_usable_key():
    from click.testing import CliRunner

    from workers.cli import main
    out = CliRunner().invoke(main, ["custody", "gen-key"]).output.strip()
    assert keyring_from_settings(Settings(custody_encryption_key=out)).current_id == key_id(bytes.fromhex(out))


async def test_start_up_creates_the_mock_custodian_once(engine):
    settings = Settings(custody_encryption_key=NEW.hex(), custody_mock_enabled=True)
    assert await start_up(engine, settings) == 0
    await start_up(engine, settings)
    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT id::text, name, provider FROM custody_custodians"))).all()
    assert [tuple(r) for r in rows] == [("00000000-0000-0000-0000-000000000000", "Mock Custodian", "mock")]
