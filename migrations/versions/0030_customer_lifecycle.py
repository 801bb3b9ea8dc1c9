"""Customers: lifecycle status (Active | Frozen | Closed) on the read model, filterable.

Revision ID: 0030_customer_lifecycle
"""

from migrations.sql import run_script

revision = "0030_customer_lifecycle"
down_revision = "0004_customers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script(
        """
        ALTER TABLE customers ADD COLUMN status VARCHAR(16) NOT NULL DEFAULT 'Active';
        CREATE INDEX ix_customers_status_created ON customers (status, created_at, id);
        """
    )


def downgrade() -> None:
    run_script("DROP INDEX ix_customers_status_created; ALTER TABLE customers DROP COLUMN status;")
