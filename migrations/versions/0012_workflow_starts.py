"""Workflow-start outbox: every withdrawal and every credit facility proposal gets a row in
``workflow_starts`` in its own insert's transaction (a trigger), so the worker's sweep
(``workers/reconcile.py``) finds each entity whose workflow start was lost, whatever its age.

Revision ID: 0012_workflow_starts

A merge of the deposits and credit branches: the triggers sit on both modules' tables. Rows already
in the store when this runs are backfilled (reserved withdrawals, proposals): the sweep checks them
once and drops those that have their workflow.
"""

from migrations.sql import run_script

revision = "0012_workflow_starts"
down_revision = ("0009_deposits", "0010_credit_facilities")
branch_labels = None
depends_on = None

# Kept in step with domain.deposits.model.RESERVED (statuses whose funds a workflow must release).
_RESERVED = "('PENDING_APPROVAL', 'PENDING_CONFIRMATION')"


def upgrade() -> None:
    run_script(
        f"""
        CREATE TABLE workflow_starts (
            entity_kind VARCHAR(32) NOT NULL,
            entity_id   UUID        NOT NULL,
            created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
            PRIMARY KEY (entity_kind, entity_id)
        );
        -- the sweep's keyset order
        CREATE INDEX ix_workflow_starts_created ON workflow_starts (created_at, entity_kind, entity_id);

        CREATE FUNCTION workflow_starts_enqueue() RETURNS trigger LANGUAGE plpgsql AS $fn$
        BEGIN
            INSERT INTO workflow_starts (entity_kind, entity_id, created_at)
            VALUES (TG_ARGV[0], NEW.id, NEW.created_at) ON CONFLICT DO NOTHING;
            RETURN NEW;
        END
        $fn$;
        CREATE TRIGGER withdrawals_workflow_start AFTER INSERT ON withdrawals
            FOR EACH ROW EXECUTE FUNCTION workflow_starts_enqueue('withdrawal');
        CREATE TRIGGER credit_facilities_workflow_start AFTER INSERT ON credit_facilities
            FOR EACH ROW WHEN (NEW.stage = 'proposal') EXECUTE FUNCTION workflow_starts_enqueue('credit_facility');

        INSERT INTO workflow_starts (entity_kind, entity_id, created_at)
            SELECT 'withdrawal', id, created_at FROM withdrawals WHERE status IN {_RESERVED}
            ON CONFLICT DO NOTHING;
        INSERT INTO workflow_starts (entity_kind, entity_id, created_at)
            SELECT 'credit_facility', id, created_at FROM credit_facilities WHERE stage = 'proposal'
            ON CONFLICT DO NOTHING;
        """
    )


def downgrade() -> None:
    run_script(
        """
        DROP TRIGGER credit_facilities_workflow_start ON credit_facilities;
        DROP TRIGGER withdrawals_workflow_start ON withdrawals;
        DROP FUNCTION workflow_starts_enqueue();
        DROP TABLE workflow_starts;
        """
    )
