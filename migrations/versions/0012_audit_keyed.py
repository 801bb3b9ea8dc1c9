"""Keyed audit chain: each seal records the id of the HMAC key that made it (NULL for the seals made
before, with unkeyed SHA-256; accepted only as a prefix covered by an anchor).

Revision ID: 0012_audit_keyed
"""

from migrations.sql import run_script

revision = "0012_audit_keyed"
down_revision = "0003_access"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script("ALTER TABLE audit_seals ADD COLUMN key_id VARCHAR(64);")


def downgrade() -> None:
    run_script("ALTER TABLE audit_seals DROP COLUMN key_id;")
