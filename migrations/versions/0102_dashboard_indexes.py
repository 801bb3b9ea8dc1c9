"""Dashboard and portfolio reads (issue 20 items 5–6): one covering index for the obligation
aggregates.

Revision ID: 0102_dashboard_indexes

- ``ix_credit_obligations_open``: every obligation not yet paid, by status, with its due date and
  outstanding amount included, so the outstanding-by-status sums and the aging buckets read this
  index (index-only once vacuumed) instead of every obligation ever written: paid obligations,
  which a book accumulates without end, are not in it. An obligation's status changes anyway move
  ``next_transition_date`` (indexed since 0050), so no update that was HOT becomes non-HOT
  because of this index except a partial payment's.
- The facility figures need none: they sum the facilities of two stages, which is the whole
  table for a live book; an index covering ``collateral_sats`` would make collateral updates
  non-HOT for no gain.

A branch of its own off 0080 (``upgrade heads`` applies every branch).
"""

from migrations.sql import run_script

revision = "0102_dashboard_indexes"
down_revision = "0080_credit_liquidations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script(
        """
        CREATE INDEX ix_credit_obligations_open ON credit_obligations (status)
            INCLUDE (due_date, outstanding_cents) WHERE status <> 'Paid';
        """
    )


def downgrade() -> None:
    run_script("DROP INDEX ix_credit_obligations_open;")
