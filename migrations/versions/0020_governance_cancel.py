"""Approval processes can end with their subject: status ``cancelled`` and the reason.

Revision ID: 0020_governance_cancel
"""

from alembic import op

revision = "0020_governance_cancel"
down_revision = "0005_governance"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE gov_approval_processes ADD COLUMN ended_reason TEXT")


def downgrade() -> None:
    op.execute("ALTER TABLE gov_approval_processes DROP COLUMN ended_reason")
