"""Deposits: read models for deposit accounts, deposits and withdrawals.

Revision ID: 0009_deposits
"""

from migrations.sql import run_script

revision = "0009_deposits"
down_revision = "0001_foundation"
branch_labels = None
depends_on = "0004_customers"


def upgrade() -> None:
    run_script(
        """
        -- one global public-id sequence for every entity kind (customers-deposits.md §0)
        CREATE SEQUENCE IF NOT EXISTS public_id_seq START 1000;

        CREATE TABLE deposit_accounts (
            id                UUID PRIMARY KEY,               -- = main ledger account id
            public_id         TEXT        NOT NULL UNIQUE,
            holder_id         UUID        NOT NULL REFERENCES customers (id),
            customer_type     VARCHAR(32) NOT NULL,
            frozen_account_id UUID        NOT NULL,           -- the frozen twin ledger account
            status            VARCHAR(16) NOT NULL,
            activity          VARCHAR(16) NOT NULL,
            version           BIGINT      NOT NULL,
            created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
            updated_at        TIMESTAMPTZ NOT NULL DEFAULT now()
        );
        -- a customer has at most one deposit account (§8.2)
        CREATE UNIQUE INDEX uq_deposit_accounts_holder ON deposit_accounts (holder_id);
        CREATE INDEX ix_deposit_accounts_created ON deposit_accounts (created_at, id);

        CREATE TABLE deposits (
            id                 UUID PRIMARY KEY,              -- = ledger tx id of the recording
            public_id          TEXT        NOT NULL UNIQUE,
            deposit_account_id UUID        NOT NULL REFERENCES deposit_accounts (id),
            amount             BIGINT      NOT NULL CHECK (amount > 0),
            reference          TEXT        NOT NULL,
            status             VARCHAR(16) NOT NULL,
            version            BIGINT      NOT NULL,
            created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
            updated_at         TIMESTAMPTZ NOT NULL DEFAULT now()
        );
        CREATE UNIQUE INDEX uq_deposits_reference ON deposits (reference);
        CREATE INDEX ix_deposits_account_created ON deposits (deposit_account_id, created_at, id);
        CREATE INDEX ix_deposits_created ON deposits (created_at, id);

        CREATE TABLE withdrawals (
            id                 UUID PRIMARY KEY,              -- = ledger tx id of the initiation = approval process id
            public_id          TEXT        NOT NULL UNIQUE,
            deposit_account_id UUID        NOT NULL REFERENCES deposit_accounts (id),
            amount             BIGINT      NOT NULL CHECK (amount > 0),
            reference          TEXT        NOT NULL,
            status             VARCHAR(24) NOT NULL,
            approved           BOOLEAN,
            version            BIGINT      NOT NULL,
            created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
            updated_at         TIMESTAMPTZ NOT NULL DEFAULT now()
        );
        CREATE UNIQUE INDEX uq_withdrawals_reference ON withdrawals (reference);
        CREATE INDEX ix_withdrawals_account_created ON withdrawals (deposit_account_id, created_at, id);
        CREATE INDEX ix_withdrawals_created ON withdrawals (created_at, id);
        CREATE INDEX ix_withdrawals_status_created ON withdrawals (status, created_at, id);
        """
    )
