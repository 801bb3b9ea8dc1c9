"""Read-model tables of custody (migrations 0090_custody, 0092_custody_inbox)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Integer, MetaData, String, Table, Text
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
    Column("released_at", DateTime(timezone=True)),  # migration 0092_custody_inbox
)

inbox = Table(
    "custody_inbox", metadata,
    Column("id", _ID, primary_key=True),
    Column("provider", String(32), nullable=False),
    Column("event_id", String(256), nullable=False),
    Column("external_wallet_id", String(200), nullable=False),
    Column("wallet_id", _ID),
    Column("notice", JSONB, nullable=False),
    Column("body", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("error", Text),
    Column("received_at", DateTime(timezone=True)),
    Column("processed_at", DateTime(timezone=True)),
)
