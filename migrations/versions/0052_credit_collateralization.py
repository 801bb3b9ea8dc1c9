"""Collateralization against total outstanding, and the set-based price pass (issue 18 items 2, 6).

Revision ID: 0052_credit_collateralization

- ``credit_facilities.outstanding_cents``: total outstanding (credit.md §3.1: not-yet-due, due and
  overdue principal and posted interest; not defaulted, not accrued-unposted), what an active
  facility's CVL is measured against. Kept by the facility's steps (disbursal settlement), the
  end-of-day steps (interest posted, obligations defaulted) and ``recompute_collateralization``
  (from the ledger: payments).
- ``credit_collateralization_triggers``: per facility, ``trigger_price_down`` / ``trigger_price_up``:
  its state changes at a price ``<= down`` or ``>= up`` (``domain.credit.cvl.trigger_prices``;
  hysteresis included). Indexed with the id, so a price event reads only the facilities it moves,
  in keyset pages. A narrow table of its own, so the price pass's update of the facility row
  changes no indexed column and, with ``credit_facilities`` at fillfactor 70, is a HOT update.
- ``credit_collateralization_history.reason``: what recomputed it (price, collateral, obligation,
  payment, activation…).
- ``credit_collateralization_signals``: the price pass's outbox (written with the page, signalled
  after the commit, marked delivered; ``key`` from business identity makes a page rerun a no-op).

Existing rows: outstanding from their open obligations; every open facility gets ``up = 0`` (any
price crosses it), so the first price after the upgrade re-evaluates each of them once and stores
its real trigger prices.

``down_revision`` is the credit branch head on main when written (``0050_credit_interest``);
payments add ``0051`` beside it (alembic upgrades ``heads``).
"""

from migrations.sql import run_script

revision = "0052_credit_collateralization"
down_revision = "0050_credit_interest"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script(
        """
        ALTER TABLE credit_facilities
            ADD COLUMN outstanding_cents BIGINT NOT NULL DEFAULT 0 CHECK (outstanding_cents >= 0);
        ALTER TABLE credit_facilities SET (fillfactor = 70);

        CREATE TABLE credit_collateralization_triggers (
            facility_id        UUID   PRIMARY KEY REFERENCES credit_facilities (id),
            trigger_price_down BIGINT,
            trigger_price_up   BIGINT
        );

        UPDATE credit_facilities f SET outstanding_cents = o.total
          FROM (SELECT facility_id, sum(outstanding_cents) AS total FROM credit_obligations
                 WHERE status IN ('NotYetDue', 'Due', 'Overdue') GROUP BY facility_id) o
         WHERE o.facility_id = f.id;
        INSERT INTO credit_collateralization_triggers (facility_id, trigger_price_up)
        SELECT id, 0 FROM credit_facilities
         WHERE (stage = 'active' AND status IN ('Active', 'Matured'))
            OR (stage = 'pending' AND pending_status = 'PendingCollateralization' AND collateral_sats > 0);

        CREATE INDEX ix_credit_collateralization_triggers_down
            ON credit_collateralization_triggers (trigger_price_down, facility_id) WHERE trigger_price_down IS NOT NULL;
        CREATE INDEX ix_credit_collateralization_triggers_up
            ON credit_collateralization_triggers (trigger_price_up, facility_id) WHERE trigger_price_up IS NOT NULL;

        ALTER TABLE credit_collateralization_history ADD COLUMN reason VARCHAR(32);

        CREATE TABLE credit_collateralization_signals (
            id            BIGSERIAL   PRIMARY KEY,
            key           TEXT        NOT NULL UNIQUE,
            facility_id   UUID        NOT NULL,
            kind          VARCHAR(32) NOT NULL,
            payload       JSONB       NOT NULL,
            created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
            delivered_at  TIMESTAMPTZ
        );
        CREATE INDEX ix_credit_collateralization_signals_undelivered ON credit_collateralization_signals (id)
            WHERE delivered_at IS NULL;
        """
    )


def downgrade() -> None:
    run_script(
        """
        DROP TABLE credit_collateralization_signals;
        ALTER TABLE credit_collateralization_history DROP COLUMN reason;
        DROP TABLE credit_collateralization_triggers;
        ALTER TABLE credit_facilities RESET (fillfactor);
        ALTER TABLE credit_facilities DROP COLUMN outstanding_cents;
        """
    )
