"""Partial liquidations (issue 18 item 3, credit.md §9.2–§9.3): the read models the liquidation
steps write in their own transactions.

Revision ID: 0080_credit_liquidations

- ``credit_liquidations``: one row per liquidation (id = UUIDv5 of the facility and its ordinal
  ``seq``), the amounts of §9.2 at initiation, what was sent and received, the proceeds' payment;
  at most one open (not ``completed``) per facility (partial unique index): the window.
- ``credit_liquidation_collateral_sent``: one row per "collateral sent" command (``command_id`` =
  the request's idempotency identity, unique), with its SEND_COLLATERAL_TO_LIQUIDATION transaction.

``down_revision`` merges the two credit heads of wt-merge (collateralization, payments), so the
tables it references exist before it.
"""

from migrations.sql import run_script

revision = "0080_credit_liquidations"
down_revision = ("0052_credit_collateralization", "0070_credit_payments")
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script(
        """
        CREATE TABLE credit_liquidations (
            id                           UUID PRIMARY KEY,
            facility_id                  UUID         NOT NULL REFERENCES credit_facilities (id),
            collateral_id                UUID         NOT NULL,
            seq                          INTEGER      NOT NULL CHECK (seq > 0),
            status                       VARCHAR(32)  NOT NULL,
            trigger_price_cents          BIGINT       NOT NULL,
            expected_to_receive_cents    BIGINT       NOT NULL CHECK (expected_to_receive_cents >= 0),
            estimated_to_liquidate_sats  BIGINT       NOT NULL CHECK (estimated_to_liquidate_sats >= 0),
            sent_total_sats              BIGINT       NOT NULL DEFAULT 0 CHECK (sent_total_sats >= 0),
            sent_count                   INTEGER      NOT NULL DEFAULT 0,
            proceeds_cents               BIGINT,
            proceeds_command_id          UUID,
            proceeds_ledger_tx_id        UUID,
            payment_id                   UUID,
            version                      BIGINT       NOT NULL,
            created_at                   TIMESTAMPTZ  NOT NULL DEFAULT now(),
            proceeds_received_at         TIMESTAMPTZ,
            completed_at                 TIMESTAMPTZ,
            UNIQUE (facility_id, seq)
        );
        CREATE UNIQUE INDEX ux_credit_liquidations_open ON credit_liquidations (facility_id)
            WHERE status <> 'completed';
        CREATE INDEX ix_credit_liquidations_created ON credit_liquidations (created_at, id);
        CREATE INDEX ix_credit_liquidations_collateral ON credit_liquidations (collateral_id, seq);

        CREATE TABLE credit_liquidation_collateral_sent (
            liquidation_id  UUID         NOT NULL REFERENCES credit_liquidations (id),
            seq             INTEGER      NOT NULL CHECK (seq > 0),
            command_id      UUID         NOT NULL UNIQUE,
            amount_sats     BIGINT       NOT NULL CHECK (amount_sats > 0),
            ledger_tx_id    UUID         NOT NULL,
            recorded_by     VARCHAR(128) NOT NULL,
            recorded_at     TIMESTAMPTZ  NOT NULL DEFAULT now(),
            PRIMARY KEY (liquidation_id, seq)
        );
        """
    )


def downgrade() -> None:
    run_script(
        """
        DROP TABLE credit_liquidation_collateral_sent;
        DROP TABLE credit_liquidations;
        """
    )
