"""Read-model tables of custody (migration 0090_custody)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Integer, MetaData, String, Table
from sqlalchemy.dialects.postgresql import JSONB, UUID

metadata = MetaData()
_ID = UUID(as_uuid=False)

custodians = Table(
    "custody_custodians", metadata,
    Column("id", _ID, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("provider", String(32), nullable=False),
    Column("encrypted_config", JSONB),
    Column("key_id", String(16)),
    Column("next_receive_index", Integer, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("created_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True)),
)

wallets = Table(
    "custody_wallets", metadata,
    Column("id", _ID, primary_key=True),
    Column("custodian_id", _ID, nullable=False),
    Column("provider", String(32), nullable=False),
    Column("facility_id", _ID, nullable=False),
    Column("collateral_id", _ID, nullable=False),
    Column("external_wallet_id", String(200), nullable=False),
    Column("address", String(200), nullable=False),
    Column("network", String(16), nullable=False),
    Column("receive_index", Integer),
    Column("custodian_response", JSONB, nullable=False),
    Column("balance_sats", BigInteger),
    Column("balance_changed_at", DateTime(timezone=True)),
    Column("version", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True)),
)
