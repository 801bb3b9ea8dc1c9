"""Dashboard and portfolio reads (issue 20 items 5–6): two partial covering indexes, so a poll
reads two small indexes (index-only once vacuumed) instead of the facility and obligation tables.

Revision ID: 0102_dashboard_indexes

- ``ix_credit_obligations_open``: every obligation not yet paid, by status, with its due date and
  outstanding amount included, so the outstanding-by-status sums and the aging buckets read this
  index (index-only once vacuumed) instead of every obligation ever written: paid obligations,
  which a book accumulates without end, are not in it. An obligation's status changes anyway move
  ``next_transition_date`` (indexed since 0050), so no update that was HOT becomes non-HOT
  because of this index except a partial payment's.
- ``ix_credit_facilities_dashboard``: the pending and activated facilities by stage and statuses,
  with their disbursed and collateral amounts included: the dashboard's counts and sums. The
  facility row is wide (terms, accounts); this index is a few percent of it. Its cost: an update
  that changes ``collateral_sats`` or ``disbursed_cents`` (a collateral update, a disbursal) is no
  longer HOT. The price pass changes neither (nor any other column here), so it stays HOT; stage
  and status changes were not HOT before (``stage`` and ``status`` are indexed since 0010/0050).

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
        CREATE INDEX ix_credit_facilities_dashboard ON credit_facilities (stage, status, pending_status)
            INCLUDE (disbursed_cents, collateral_sats) WHERE stage IN ('pending', 'active');
        """
    )


def downgrade() -> None:
    run_script("DROP INDEX ix_credit_facilities_dashboard; DROP INDEX ix_credit_obligations_open;")
