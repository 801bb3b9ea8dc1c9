"""The report tables (migration 0100_reports)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Date, DateTime, MetaData, String, Table, Text
from sqlalchemy.dialects.postgresql import UUID

metadata = MetaData()
_ID = UUID(as_uuid=False)

report_runs = Table(
    "report_runs", metadata,
    Column("id", _ID, primary_key=True),
    Column("run_key", String(200), nullable=False, unique=True),
    Column("state", String(16), nullable=False),
    Column("run_type", String(16), nullable=False),
    Column("definition_id", String(100)),
    Column("as_of_date", Date),
    Column("error", Text),
    Column("requested_by", String(128), nullable=False),
    Column("start_time", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    Column("version", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True)),
)

reports = Table(
    "reports", metadata,
    Column("id", _ID, primary_key=True),
    Column("run_id", _ID, nullable=False),
    Column("external_id", String(300), nullable=False, unique=True),
    Column("definition_id", String(100), nullable=False),
    Column("norm", String(50), nullable=False),
    Column("name", String(100), nullable=False),
    Column("friendly_name", String(200), nullable=False),
    Column("row_count", BigInteger),
    Column("created_at", DateTime(timezone=True)),
)

report_files = Table(
    "report_files", metadata,
    Column("report_id", _ID, primary_key=True),
    Column("extension", String(8), primary_key=True),
    Column("path_in_bucket", String(500), nullable=False, unique=True),
    Column("content_type", String(100), nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True)),
)
