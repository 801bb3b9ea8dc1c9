"""Read-model tables of the customer module (migrations 0004_customers, 0030_customer_lifecycle)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, DateTime, MetaData, String, Table, Text
from sqlalchemy.dialects.postgresql import UUID

metadata = MetaData()

customers = Table(
    "customers",
    metadata,
    Column("id", UUID(as_uuid=False), primary_key=True),
    Column("email", String(320), nullable=False),
    Column("telegram_handle", String(64), nullable=False),
    Column("customer_type", String(32), nullable=False),
    Column("kyc_status", String(32), nullable=False),
    Column("kyc_level", String(16), nullable=False),
    Column("applicant_id", String(64)),
    Column("activity", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("last_activity_at", DateTime(timezone=True), nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

customer_documents = Table(
    "customer_documents",
    metadata,
    Column("id", UUID(as_uuid=False), primary_key=True),
    Column("customer_id", UUID(as_uuid=False), nullable=False),
    Column("original_filename", String(255), nullable=False),
    Column("sanitized_filename", String(255), nullable=False),
    Column("content_type", String(128), nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("path_in_storage", Text, nullable=False),
    Column("storage_identifier", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("deleted", Boolean, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
