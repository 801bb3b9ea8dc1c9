"""Business time: the simulated clock's instant (so the API and every worker agree on it), each
completed end-of-day date with its summary, and the targets of clock advances by request key.

Revision ID: 0060_business_clock

On the platform branch: nothing here references another module's tables.
"""

from migrations.sql import run_script

revision = "0060_business_clock"
down_revision = "0006_platform"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script(
        """
        -- one row; absent until a simulated clock is first read (it then starts at the wall clock)
        CREATE TABLE business_clock (
            id            SMALLINT    PRIMARY KEY DEFAULT 1 CHECK (id = 1),
            simulated_now TIMESTAMPTZ NOT NULL,
            updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
        );
        -- a date is here once its EndOfDay run completed (with or without entity failures)
        CREATE TABLE end_of_day_runs (
            business_date DATE        PRIMARY KEY,
            status        VARCHAR(32) NOT NULL,
            summary       JSONB       NOT NULL,
            first_completed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
            completed_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
            runs          INTEGER     NOT NULL DEFAULT 1
        );
        -- POST /time/advance-to-next-end-of-day: the last date a request (principal + Idempotency-Key)
        -- closes, so a retried request goes on to the same date instead of advancing again
        CREATE TABLE business_clock_advances (
            request_key  TEXT        PRIMARY KEY,
            first_date   DATE        NOT NULL,
            target_date  DATE        NOT NULL,
            created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
        );
        """
    )


def downgrade() -> None:
    run_script("DROP TABLE business_clock_advances; DROP TABLE end_of_day_runs; DROP TABLE business_clock;")
