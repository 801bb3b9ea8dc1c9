"""Read-model tables of the credit facility lifecycle (migrations 0010_credit_facilities,
0031_credit_disbursal_failed, 0050_credit_interest,
0052_credit_collateralization)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Date, DateTime, Integer, MetaData, Numeric, String, Table
from sqlalchemy.dialects.postgresql import JSONB, UUID

metadata = MetaData()
_ID = UUID(as_uuid=False)

facilities = Table(
    "credit_facilities", metadata,
    Column("id", _ID, primary_key=True),
    Column("public_id", BigInteger),
    Column("customer_id", _ID, nullable=False),
    Column("customer_type", String(32), nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("terms", JSONB, nullable=False),
    Column("custodian_id", _ID),
    Column("collateral_id", _ID, nullable=False),
    Column("deposit_account_id", _ID, nullable=False),
    Column("stage", String(16), nullable=False),
    Column("proposal_status", String(32), nullable=False),
    Column("pending_status", String(32)),
    Column("status", String(32)),
    Column("pending_collateralization", String(32)),
    Column("collateralization", String(32)),
    Column("collateral_sats", BigInteger, nullable=False),
    Column("collateral_seq", BigInteger, nullable=False),
    Column("cvl", String(32)),
    Column("cvl_sort", Numeric),
    Column("price_cents", BigInteger),
    Column("drawn_cents", BigInteger, nullable=False),
    Column("disbursed_cents", BigInteger, nullable=False),
    Column("accounts", JSONB, nullable=False),
    Column("activated_at", DateTime(timezone=True)),
    Column("maturity_date", Date),
    Column("failed_disbursals", BigInteger, nullable=False),  # migration 0031_credit_disbursal_failed
    Column("last_disbursal_failure", String),
    Column("outstanding_cents", BigInteger, nullable=False),  # migration 0052_credit_collateralization
    Column("version", BigInteger, nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

collateral_updates = Table(
    "credit_collateral_updates", metadata,
    Column("facility_id", _ID, primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("collateral_id", _ID, nullable=False),
    Column("previous_sats", BigInteger, nullable=False),
    Column("new_sats", BigInteger, nullable=False),
    Column("direction", String(8), nullable=False),
    Column("effective", Date, nullable=False),
    Column("ledger_tx_id", _ID),
    Column("recorded_by", String(128), nullable=False),
    Column("recorded_at", DateTime(timezone=True)),
)

collateralization_history = Table(
    "credit_collateralization_history", metadata,
    Column("facility_id", _ID, primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("stage", String(16), nullable=False),
    Column("state", String(32), nullable=False),
    Column("cvl", String(32), nullable=False),
    Column("collateral_sats", BigInteger, nullable=False),
    Column("outstanding_cents", BigInteger, nullable=False),
    Column("price_cents", BigInteger, nullable=False),
    Column("recorded_at", DateTime(timezone=True)),
    Column("reason", String(32)),  # migration 0052: price, collateral, obligation, payment, activation...
)

# migration 0052: where each facility's state changes (at a price <= down, or >= up;
# domain.credit.cvl.trigger_prices), a narrow table so the facility row's own update stays HOT
collateralization_triggers = Table(
    "credit_collateralization_triggers", metadata,
    Column("facility_id", _ID, primary_key=True),
    Column("trigger_price_down", BigInteger),
    Column("trigger_price_up", BigInteger),
)

# migration 0052: the price pass's outbox (signalled after the page commits, then marked delivered)
collateralization_signals = Table(
    "credit_collateralization_signals", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("key", String, nullable=False, unique=True),
    Column("facility_id", _ID, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("payload", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True)),
    Column("delivered_at", DateTime(timezone=True)),
)

disbursals = Table(
    "credit_disbursals", metadata,
    Column("id", _ID, primary_key=True),
    Column("public_id", BigInteger),
    Column("facility_id", _ID, nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("is_initial", Boolean, nullable=False),
    Column("approval_process_id", _ID, nullable=False),
    Column("due_date", Date, nullable=False),
    Column("overdue_date", Date),
    Column("liquidation_date", Date),
    Column("version", BigInteger, nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("created_at", DateTime(timezone=True)),
    Column("concluded_at", DateTime(timezone=True)),
    Column("failure_code", String),  # migration 0031_credit_disbursal_failed
    Column("failure_reason", String),
)

obligations = Table(
    "credit_obligations", metadata,
    Column("id", _ID, primary_key=True),
    Column("facility_id", _ID, nullable=False),
    Column("disbursal_id", _ID),
    Column("obligation_type", String(16), nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("outstanding_cents", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("reference", String(80), nullable=False),
    Column("effective", Date, nullable=False),
    Column("due_date", Date, nullable=False),
    Column("overdue_date", Date),
    Column("liquidation_date", Date),
    Column("created_at", DateTime(timezone=True)),
    Column("cycle_id", _ID),  # migration 0050_credit_interest: an interest obligation's accrual cycle
    Column("next_transition_date", Date),  # the end-of-day selection (NULL: no transition left)
    Column("version", BigInteger, nullable=False),  # its ``credit_obligation`` stream
    Column("updated_at", DateTime(timezone=True)),
    Column("allocation_count", Integer, nullable=False, server_default="0"),  # migration 0070_credit_payments
)

# migration 0050_credit_interest: one row per accrual cycle (the aggregate's snapshot at ``version``)
accrual_cycles = Table(
    "credit_accrual_cycles", metadata,
    Column("id", _ID, primary_key=True),
    Column("facility_id", _ID, nullable=False),
    Column("idx", Integer, nullable=False),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date, nullable=False),
    Column("accrual_interval", String(16), nullable=False),
    Column("annual_rate", Numeric, nullable=False),
    Column("day_count", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("next_period_start", Date),
    Column("next_period_end", Date),
    Column("accrual_count", Integer, nullable=False),
    Column("accrued_cents", BigInteger, nullable=False),
    Column("obligation_id", _ID),
    Column("version", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

interest_accruals = Table(
    "credit_interest_accruals", metadata,
    Column("cycle_id", _ID, primary_key=True),
    Column("n", Integer, primary_key=True),
    Column("facility_id", _ID, nullable=False),
    Column("period_start", Date, nullable=False),
    Column("period_end", Date, nullable=False),
    Column("days", Integer, nullable=False),
    Column("principal_cents", BigInteger, nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("ledger_tx_id", _ID),  # None for a zero accrual (nothing to post)
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# migration 0070_credit_payments: payments and their allocations (credit.md §8)
payments = Table(
    "credit_payments", metadata,
    Column("id", _ID, primary_key=True),
    Column("facility_id", _ID, nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("allocated_cents", BigInteger, nullable=False),
    Column("effective", Date, nullable=False),
    Column("source_account_id", _ID, nullable=False),
    Column("ledger_tx_id", _ID, nullable=False),
    Column("recorded_by", String(128), nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

payment_allocations = Table(
    "credit_payment_allocations", metadata,
    Column("id", _ID, primary_key=True),
    Column("payment_id", _ID, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("facility_id", _ID, nullable=False),
    Column("obligation_id", _ID, nullable=False),
    Column("obligation_type", String(16), nullable=False),
    Column("obligation_status", String(16), nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("idx", Integer, nullable=False),
    Column("receivable_account_id", _ID, nullable=False),
    Column("effective", Date, nullable=False),
    Column("ledger_tx_id", _ID, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# --- liquidations (migration 0080_credit_liquidations) ------------------------------------------
liquidations = Table(
    "credit_liquidations", metadata,
    Column("id", _ID, primary_key=True),
    Column("facility_id", _ID, nullable=False),
    Column("collateral_id", _ID, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("status", String(32), nullable=False),
    Column("trigger_price_cents", BigInteger, nullable=False),
    Column("expected_to_receive_cents", BigInteger, nullable=False),
    Column("estimated_to_liquidate_sats", BigInteger, nullable=False),
    Column("sent_total_sats", BigInteger, nullable=False),
    Column("sent_count", Integer, nullable=False),
    Column("proceeds_cents", BigInteger),
    Column("proceeds_command_id", _ID),
    Column("proceeds_ledger_tx_id", _ID),
    Column("payment_id", _ID),
    Column("version", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("proceeds_received_at", DateTime(timezone=True)),
    Column("completed_at", DateTime(timezone=True)),
)

liquidation_collateral_sent = Table(
    "credit_liquidation_collateral_sent", metadata,
    Column("liquidation_id", _ID, primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("command_id", _ID, nullable=False),
    Column("amount_sats", BigInteger, nullable=False),
    Column("ledger_tx_id", _ID, nullable=False),
    Column("recorded_by", String(128), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)
