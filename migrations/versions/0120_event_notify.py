"""Live updates (issue 21 item 4, ``docs/streams.md``): every statement that appends events sends
one ``NOTIFY lana_events`` in the same transaction.

Revision ID: 0120_event_notify

A statement-level ``AFTER INSERT`` trigger with a transition table: a batch of 1,000 accrual
events written by one ``INSERT`` is one notification, not 1,000. The payload is small and fixed
(``{"tx": <xid8>, "min": <id>, "max": <id>}``, far below the 8 kB limit): the API's listener reads
the rows ``WHERE id BETWEEN min AND max AND tx_id = tx`` once per process and fans them out, so
concurrent transactions whose ids interleave with this range are not mistaken for it. PostgreSQL
delivers notifications at commit, in commit order; a rolled-back transaction sends none.
"""

from migrations.sql import run_script

revision = "0120_event_notify"
down_revision = "0110_event_transaction"
branch_labels = None
depends_on = None


# kept by name: migration 0130's downgrade restores it
NOTIFY_FUNCTION = """
        CREATE OR REPLACE FUNCTION events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('lana_events', json_build_object(
                        'tx', pg_current_xact_id()::text, 'min', min(id), 'max', max(id))::text)
            FROM new_rows HAVING count(*) > 0;
            RETURN NULL;
        END $$;"""


def upgrade() -> None:
    run_script(NOTIFY_FUNCTION + """
        CREATE TRIGGER events_notify AFTER INSERT ON events
            REFERENCING NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION events_notify();
    """)


def downgrade() -> None:
    run_script("""
        DROP TRIGGER events_notify ON events;
        DROP FUNCTION events_notify();
    """)
