"""Interest accrual cycles and accruals, the obligation status lifecycle, maturity (issue 17):
the tables and indexes the end-of-day steps select from.

Revision ID: 0050_credit_interest

- ``credit_accrual_cycles``: one row per cycle (the aggregate's snapshot); at most one open
  (not ``Posted``) cycle per facility. The accrual step selects ``status = 'InProgress' AND
  next_period_end <= D`` by facility id; ``next_period_end`` is deliberately not indexed, so the
  daily update of a cycle row is a HOT update (fillfactor 50 leaves the room for it).
- ``credit_interest_accruals``: one row per accrual period (the API's read of a cycle's accruals).
- ``credit_obligations``: ``next_transition_date`` (indexed: the transition step's selection),
  ``version`` (its ``credit_obligation`` stream), ``cycle_id`` (interest obligations).
- ``credit_facilities``: the maturity step's index (active facilities by maturity date).

Facilities activated before this revision get their first cycle here (from the activation day;
they catch up one accrual period per end of day) and their not-yet-due obligations a next
transition date. Their due/overdue/defaulted receivable accounts are created by the end-of-day
steps the first time they need them.

``down_revision`` is the credit branch's head on main at the time of writing
(``0031_credit_disbursal_failed``); a merge that puts another revision on this branch first moves
it there.
"""

from migrations.sql import run_script

revision = "0050_credit_interest"
down_revision = "0031_credit_disbursal_failed"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script(
        """
        CREATE TABLE credit_accrual_cycles (
            id                 UUID PRIMARY KEY,
            facility_id        UUID        NOT NULL REFERENCES credit_facilities (id),
            idx                INTEGER     NOT NULL CHECK (idx > 0),
            start_date         DATE        NOT NULL,
            end_date           DATE        NOT NULL CHECK (end_date >= start_date),
            accrual_interval   VARCHAR(16) NOT NULL,
            annual_rate        NUMERIC     NOT NULL,
            day_count          VARCHAR(16) NOT NULL,
            status             VARCHAR(16) NOT NULL,
            next_period_start  DATE,
            next_period_end    DATE,
            accrual_count      INTEGER     NOT NULL DEFAULT 0,
            accrued_cents      BIGINT      NOT NULL DEFAULT 0,
            obligation_id      UUID,
            version            BIGINT      NOT NULL,
            created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
            updated_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
            UNIQUE (facility_id, idx)
        ) WITH (fillfactor = 50);
        CREATE UNIQUE INDEX ux_credit_accrual_cycles_open ON credit_accrual_cycles (facility_id)
            WHERE status <> 'Posted';
        CREATE INDEX ix_credit_accrual_cycles_in_progress ON credit_accrual_cycles (facility_id)
            WHERE status = 'InProgress';
        CREATE INDEX ix_credit_accrual_cycles_accrued ON credit_accrual_cycles (facility_id)
            WHERE status = 'Accrued';

        CREATE TABLE credit_interest_accruals (
            cycle_id         UUID        NOT NULL REFERENCES credit_accrual_cycles (id),
            n                INTEGER     NOT NULL CHECK (n > 0),
            facility_id      UUID        NOT NULL,
            period_start     DATE        NOT NULL,
            period_end       DATE        NOT NULL,
            days             INTEGER     NOT NULL,
            principal_cents  BIGINT      NOT NULL,
            amount_cents     BIGINT      NOT NULL CHECK (amount_cents >= 0),
            ledger_tx_id     UUID,
            created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
            PRIMARY KEY (cycle_id, n)
        );

        ALTER TABLE credit_obligations
            ADD COLUMN cycle_id UUID REFERENCES credit_accrual_cycles (id),
            ADD COLUMN next_transition_date DATE,
            ADD COLUMN version BIGINT NOT NULL DEFAULT 0,
            ADD COLUMN updated_at TIMESTAMPTZ;
        UPDATE credit_obligations SET next_transition_date = due_date WHERE status = 'NotYetDue';
        CREATE INDEX ix_credit_obligations_next_transition ON credit_obligations (next_transition_date, id)
            WHERE next_transition_date IS NOT NULL;
        CREATE INDEX ix_credit_obligations_facility_created ON credit_obligations (facility_id, created_at, id);

        CREATE INDEX ix_credit_facilities_maturity ON credit_facilities (maturity_date, id)
            WHERE stage = 'active' AND status = 'Active';

        -- The first cycle of every facility activated before interest existed (credit.md §6.3):
        -- from the activation day to its month's end (EndOfMonth) or that day (EndOfDay), truncated
        -- at maturity; its first accrual period likewise inside it.
        INSERT INTO credit_accrual_cycles (id, facility_id, idx, start_date, end_date, accrual_interval,
               annual_rate, day_count, status, next_period_start, next_period_end, version)
        SELECT gen_random_uuid(), c.id, 1, c.start_date, c.end_date, c.accrual_interval, c.annual_rate,
               c.day_count, 'InProgress', c.start_date,
               CASE c.accrual_interval WHEN 'EndOfDay' THEN c.start_date ELSE c.end_date END, 0
          FROM (SELECT f.id, (f.activated_at AT TIME ZONE 'UTC')::date AS start_date,
                       least(CASE f.terms->>'accrual_cycle_interval'
                               WHEN 'EndOfDay' THEN (f.activated_at AT TIME ZONE 'UTC')::date
                               ELSE (date_trunc('month', f.activated_at AT TIME ZONE 'UTC')
                                     + interval '1 month - 1 day')::date END, f.maturity_date) AS end_date,
                       f.terms->>'accrual_interval' AS accrual_interval,
                       (f.terms->>'annual_rate')::numeric AS annual_rate,
                       coalesce(f.terms->>'day_count_convention', 'act_365_fixed') AS day_count
                  FROM credit_facilities f
                 WHERE f.stage = 'active' AND f.status = 'Active' AND f.activated_at IS NOT NULL
                   AND (f.activated_at AT TIME ZONE 'UTC')::date <= f.maturity_date) c;
        """
    )


def downgrade() -> None:
    run_script(
        """
        DROP INDEX ix_credit_facilities_maturity;
        DROP INDEX ix_credit_obligations_facility_created;
        ALTER TABLE credit_obligations DROP COLUMN cycle_id, DROP COLUMN next_transition_date,
            DROP COLUMN version, DROP COLUMN updated_at;
        DROP TABLE credit_interest_accruals;
        DROP TABLE credit_accrual_cycles;
        """
    )
