"""Events remember the database transaction that wrote them (issue 21, event timelines).

Revision ID: 0110_event_transaction

``events.tx_id`` (``pg_current_xact_id()`` by default, like ``audit_entries.tx_id``) links an event
to the audit entries written in the same transaction: an operation that records a system action
(``record_system_action``) and appends events commits both at once, and the timeline
(``GET /<resource>/{id}/events``) shows that entry with the event. Rows written before this
revision keep a null ``tx_id`` (no link); the column is added without a default first, so the table
is not rewritten, then the default applies to new rows.

``down_revision`` is ``0100_reports`` (one of main's two heads when written; ``upgrade heads``
applies every branch).
"""

from migrations.sql import run_script

revision = "0110_event_transaction"
down_revision = "0100_reports"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script("""
        ALTER TABLE events ADD COLUMN tx_id XID8;
        ALTER TABLE events ALTER COLUMN tx_id SET DEFAULT pg_current_xact_id();
    """)


def downgrade() -> None:
    run_script("ALTER TABLE events DROP COLUMN tx_id;")
