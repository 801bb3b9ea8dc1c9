"""Payments and their allocations (issue 18, credit.md §8): the read models the payment step writes
in its own transaction, and each obligation's allocation count.

Revision ID: 0070_credit_payments

- ``credit_payments``: one row per payment (id = the client's idempotency identity), with the
  ledger transaction of its RECORD_PAYMENT; listed per facility by ``(created_at, id)``.
- ``credit_payment_allocations``: one row per allocation (``seq`` = its place in the payment's
  allocation order); ``(obligation_id, idx)`` is unique, as the posting key
  ``obligation-{obligation_id}-idx-{idx}`` is.
- ``credit_obligations.allocation_count``: the allocations an obligation has received.

``down_revision`` is main's head at the time of writing (``0061_end_of_day_events``); a merge that
puts another revision there first moves it.
"""

from migrations.sql import run_script

revision = "0070_credit_payments"
down_revision = "0061_end_of_day_events"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script(
        """
        CREATE TABLE credit_payments (
            id                 UUID PRIMARY KEY,
            facility_id        UUID         NOT NULL REFERENCES credit_facilities (id),
            amount_cents       BIGINT       NOT NULL CHECK (amount_cents > 0),
            allocated_cents    BIGINT       NOT NULL CHECK (allocated_cents >= 0 AND allocated_cents <= amount_cents),
            effective          DATE         NOT NULL,
            source_account_id  UUID         NOT NULL,
            ledger_tx_id       UUID         NOT NULL,
            recorded_by        VARCHAR(128) NOT NULL,
            version            BIGINT       NOT NULL,
            created_at         TIMESTAMPTZ  NOT NULL DEFAULT now()
        );
        CREATE INDEX ix_credit_payments_facility ON credit_payments (facility_id, created_at, id);

        CREATE TABLE credit_payment_allocations (
            id                     UUID PRIMARY KEY,
            payment_id             UUID        NOT NULL REFERENCES credit_payments (id),
            seq                    INTEGER     NOT NULL CHECK (seq > 0),
            facility_id            UUID        NOT NULL,
            obligation_id          UUID        NOT NULL REFERENCES credit_obligations (id),
            obligation_type        VARCHAR(16) NOT NULL,
            obligation_status      VARCHAR(16) NOT NULL,
            amount_cents           BIGINT      NOT NULL CHECK (amount_cents > 0),
            idx                    INTEGER     NOT NULL CHECK (idx > 0),
            receivable_account_id  UUID        NOT NULL,
            effective              DATE        NOT NULL,
            ledger_tx_id           UUID        NOT NULL,
            created_at             TIMESTAMPTZ NOT NULL DEFAULT now(),
            UNIQUE (payment_id, seq),
            UNIQUE (obligation_id, idx)
        );

        ALTER TABLE credit_obligations ADD COLUMN allocation_count INTEGER NOT NULL DEFAULT 0;
        """
    )


def downgrade() -> None:
    run_script(
        """
        ALTER TABLE credit_obligations DROP COLUMN allocation_count;
        DROP TABLE credit_payment_allocations;
        DROP TABLE credit_payments;
        """
    )
