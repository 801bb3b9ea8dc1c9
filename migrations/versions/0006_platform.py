"""Platform: API idempotency records can be reserved before the handler runs.

A row with ``status_code IS NULL`` is an in-flight request holding the key; ``reserved_at`` lets a
reservation left by a crashed process be taken over after a lease. The response is stored as raw
bytes so a replay is byte-for-byte the first response.

Revision ID: 0006_platform
"""

from migrations.sql import run_script

revision = "0006_platform"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script(
        """
        ALTER TABLE api_idempotency ALTER COLUMN status_code DROP NOT NULL;
        ALTER TABLE api_idempotency DROP COLUMN response_body;
        ALTER TABLE api_idempotency ADD COLUMN response_body BYTEA;
        ALTER TABLE api_idempotency ADD COLUMN reserved_at TIMESTAMPTZ NOT NULL DEFAULT now();
        ALTER TABLE api_idempotency ADD COLUMN completed_at TIMESTAMPTZ;
        CREATE INDEX ix_api_idempotency_created ON api_idempotency (created_at);
        """
    )


def downgrade() -> None:
    run_script(
        """
        DROP INDEX ix_api_idempotency_created;
        DELETE FROM api_idempotency WHERE status_code IS NULL;
        ALTER TABLE api_idempotency DROP COLUMN completed_at;
        ALTER TABLE api_idempotency DROP COLUMN reserved_at;
        ALTER TABLE api_idempotency DROP COLUMN response_body;
        ALTER TABLE api_idempotency ADD COLUMN response_body JSONB;
        ALTER TABLE api_idempotency ALTER COLUMN status_code SET NOT NULL;
        """
    )
