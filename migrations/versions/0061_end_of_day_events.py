"""The end-of-day steps' facility events, written in the page's own transaction (an outbox): the
step activity signals them after the page has committed and marks them delivered, so a worker that
dies between the commit and the signals loses none (the retried attempt sends what is still
undelivered).

Revision ID: 0061_end_of_day_events
"""

from migrations.sql import run_script

revision = "0061_end_of_day_events"
down_revision = "0060_business_clock"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script(
        """
        CREATE TABLE end_of_day_events (
            id            BIGSERIAL   PRIMARY KEY,
            business_date DATE        NOT NULL,
            step          VARCHAR(64) NOT NULL,
            facility_id   TEXT        NOT NULL,
            kind          VARCHAR(64) NOT NULL,
            detail        JSONB       NOT NULL DEFAULT '{}'::jsonb,
            created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
            delivered_at  TIMESTAMPTZ
        );
        CREATE INDEX ix_end_of_day_events_undelivered ON end_of_day_events (business_date, step, id)
            WHERE delivered_at IS NULL;
        """
    )


def downgrade() -> None:
    run_script("DROP TABLE end_of_day_events;")
