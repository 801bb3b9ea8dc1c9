"""A disbursal whose settlement was refused ends ``Failed`` with the refusal's code and reason; the
facility row counts its failed disbursals (issue 14, docs/credit.md).

Revision ID: 0031_credit_disbursal_failed
"""

from alembic import op

revision = "0031_credit_disbursal_failed"
down_revision = "0012_workflow_starts"  # the credit branch head (merge of deposits and credit)
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE credit_disbursals ADD COLUMN failure_code TEXT, ADD COLUMN failure_reason TEXT")
    op.execute("ALTER TABLE credit_facilities ADD COLUMN failed_disbursals BIGINT NOT NULL DEFAULT 0,"
               " ADD COLUMN last_disbursal_failure TEXT")


def downgrade() -> None:
    op.execute("ALTER TABLE credit_facilities DROP COLUMN failed_disbursals, DROP COLUMN last_disbursal_failure")
    op.execute("ALTER TABLE credit_disbursals DROP COLUMN failure_code, DROP COLUMN failure_reason")
