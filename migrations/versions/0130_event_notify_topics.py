"""Live updates: the notification names its topics, so a listener skips what nobody watches.

Revision ID: 0130_event_notify_topics

Migration 0120's notification (``{"tx", "min", "max"}``) told the API's listener only where the
rows are: with any subscriber at all, it read every range, whoever it was for (in ``lana bench
credit`` about 16 reads per facility, most for facilities nobody was watching then). A statement
of at most 16 events now also sends ``topics``: each event's ``entity_type:entity_id`` and, for the
events of a facility's disbursals, accrual cycles and obligations, ``credit_facility:<id>`` of their
facility (the same lookup the listener's read does; ``credit_facility:?`` when the row is not
there, so a facility stream never misses it). The listener reads the range only when a topic has a
subscriber. A larger statement (an end-of-day page) sends no topics and is read as before when
anyone listens: the trigger never does per-row work on a batch. The payload stays far below the
8 kB limit (16 topics of at most ~90 bytes).
"""

from migrations.sql import definition_from, run_script

revision = "0130_event_notify_topics"
down_revision = "0120_event_notify"
branch_labels = None
depends_on = None

TOPICS_MAX = 16


def upgrade() -> None:
    run_script(f"""
        CREATE OR REPLACE FUNCTION events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            n bigint;
            lo bigint;
            hi bigint;
            t text[];
        BEGIN
            SELECT count(*), min(id), max(id) INTO n, lo, hi FROM new_rows;
            IF n = 0 THEN
                RETURN NULL;
            END IF;
            IF n <= {TOPICS_MAX} THEN
                SELECT array_agg(DISTINCT topic) INTO t FROM (
                    SELECT r.entity_type || ':' || r.entity_id AS topic FROM new_rows r
                    UNION ALL
                    SELECT 'credit_facility:' || coalesce(CASE
                               WHEN r.entity_id !~ '^[0-9a-fA-F-]{{36}}$' THEN NULL  -- never a failed cast here
                               WHEN r.entity_type = 'credit_disbursal' THEN (SELECT d.facility_id::text FROM credit_disbursals d
                                                             WHERE d.id = r.entity_id::uuid)
                               WHEN r.entity_type = 'credit_accrual_cycle' THEN (SELECT c.facility_id::text FROM credit_accrual_cycles c
                                                                 WHERE c.id = r.entity_id::uuid)
                               WHEN r.entity_type = 'credit_obligation' THEN (SELECT o.facility_id::text FROM credit_obligations o
                                                              WHERE o.id = r.entity_id::uuid)
                           END, '?')
                      FROM new_rows r
                     WHERE r.entity_type IN ('credit_disbursal', 'credit_accrual_cycle', 'credit_obligation')
                ) s;
            END IF;
            PERFORM pg_notify('lana_events', json_build_object(
                        'tx', pg_current_xact_id()::text, 'min', lo, 'max', hi, 'topics', t)::text);
            RETURN NULL;
        END $$;
    """)


def downgrade() -> None:
    run_script(definition_from("0120_event_notify.py", "NOTIFY_FUNCTION"))
