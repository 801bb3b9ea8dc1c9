"""Governance: committees, policies (one per process type), approval processes (read models).

Revision ID: 0005_governance
"""

from migrations.sql import run_script

revision = "0005_governance"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script(
        """
        CREATE TABLE gov_committees (
            id          UUID PRIMARY KEY,
            name        VARCHAR(200) NOT NULL UNIQUE,
            created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
        );
        CREATE TABLE gov_committee_members (
            committee_id UUID NOT NULL REFERENCES gov_committees(id),
            user_id      UUID NOT NULL,
            added_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
            PRIMARY KEY (committee_id, user_id)
        );
        CREATE TABLE gov_policies (
            id           UUID PRIMARY KEY,
            process_type VARCHAR(64) NOT NULL UNIQUE,
            rules        JSONB NOT NULL,
            created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
        );
        CREATE TABLE gov_approval_processes (
            id           UUID PRIMARY KEY,
            process_type VARCHAR(64) NOT NULL,
            target_ref   VARCHAR(200) NOT NULL,
            policy_id    UUID NOT NULL REFERENCES gov_policies(id),
            rules        JSONB NOT NULL,
            eligible     JSONB NOT NULL,
            threshold    INTEGER NOT NULL,
            status       VARCHAR(16) NOT NULL,
            votes        JSONB NOT NULL DEFAULT '[]'::jsonb,
            created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
            concluded_at TIMESTAMPTZ
        );
        CREATE INDEX ix_gov_processes_status_type ON gov_approval_processes (status, process_type, created_at DESC);
        CREATE INDEX ix_gov_processes_created ON gov_approval_processes (created_at DESC, id DESC);

        INSERT INTO gov_policies (id, process_type, rules) VALUES
          (gen_random_uuid(), 'credit-facility-proposal', '{"type": "auto_approve"}'),
          (gen_random_uuid(), 'disbursal', '{"type": "auto_approve"}'),
          (gen_random_uuid(), 'withdraw', '{"type": "auto_approve"}');
        INSERT INTO events (entity_type, entity_id, sequence, event_type, payload)
          SELECT 'policy', id::text, 1, 'PolicyCreated',
                 jsonb_build_object('process_type', process_type, 'rules', rules)
          FROM gov_policies;
        """
    )


def downgrade() -> None:
    run_script(
        "DROP TABLE gov_approval_processes; DROP TABLE gov_policies; "
        "DROP TABLE gov_committee_members; DROP TABLE gov_committees;"
    )
