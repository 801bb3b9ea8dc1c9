"""Credit facilities: proposal → pending → active (one row per id), collateral updates,
collateralization history, disbursals, principal obligations.

Revision ID: 0010_credit_facilities

No ``depends_on``: these tables reference no other module's tables (ledger accounts, customers and
prices are referenced by id only), and alembic 1.x fails ``upgrade heads`` from an empty database
(``KeyError: '0001_foundation'`` in ``HeadMaintainer._delete_version``) when a branch off
``0001_foundation`` depends on sibling branches of the same base.
"""

from migrations.sql import run_script

revision = "0010_credit_facilities"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script(
        """
        CREATE SEQUENCE credit_public_ids;
        -- One row per loan: the proposal, its pending facility and the facility share the id.
        CREATE TABLE credit_facilities (
            id                        UUID PRIMARY KEY,
            public_id                 BIGINT       NOT NULL UNIQUE DEFAULT nextval('credit_public_ids'),
            customer_id               UUID         NOT NULL,
            customer_type             VARCHAR(32)  NOT NULL,
            amount_cents              BIGINT       NOT NULL CHECK (amount_cents > 0),
            terms                     JSONB        NOT NULL,
            custodian_id              UUID,
            collateral_id             UUID         NOT NULL UNIQUE,
            deposit_account_id        UUID         NOT NULL,
            stage                     VARCHAR(16)  NOT NULL,
            proposal_status           VARCHAR(32)  NOT NULL,
            pending_status            VARCHAR(32),
            status                    VARCHAR(32),
            pending_collateralization VARCHAR(32),
            collateralization         VARCHAR(32),
            collateral_sats           BIGINT       NOT NULL DEFAULT 0,
            collateral_seq            BIGINT       NOT NULL DEFAULT 0,
            cvl                       VARCHAR(32),
            cvl_sort                  NUMERIC,
            price_cents               BIGINT,
            drawn_cents               BIGINT       NOT NULL DEFAULT 0,
            disbursed_cents           BIGINT       NOT NULL DEFAULT 0,
            accounts                  JSONB        NOT NULL DEFAULT '{}',
            activated_at              TIMESTAMPTZ,
            maturity_date             DATE,
            version                   BIGINT       NOT NULL,
            created_by                VARCHAR(128) NOT NULL,
            created_at                TIMESTAMPTZ  NOT NULL DEFAULT now(),
            updated_at                TIMESTAMPTZ  NOT NULL DEFAULT now()
        );
        CREATE INDEX ix_credit_facilities_created ON credit_facilities (created_at, id);
        CREATE INDEX ix_credit_facilities_stage ON credit_facilities (stage, created_at, id);
        CREATE INDEX ix_credit_facilities_customer ON credit_facilities (customer_id);

        CREATE TABLE credit_collateral_updates (
            facility_id     UUID        NOT NULL REFERENCES credit_facilities (id),
            seq             BIGINT      NOT NULL,
            collateral_id   UUID        NOT NULL,
            previous_sats   BIGINT      NOT NULL,
            new_sats        BIGINT      NOT NULL,
            direction       VARCHAR(8)  NOT NULL,
            effective       DATE        NOT NULL,
            ledger_tx_id    UUID,
            recorded_by     VARCHAR(128) NOT NULL,
            recorded_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
            PRIMARY KEY (facility_id, seq)
        );

        CREATE TABLE credit_collateralization_history (
            facility_id       UUID        NOT NULL REFERENCES credit_facilities (id),
            seq               BIGINT      NOT NULL,
            stage             VARCHAR(16) NOT NULL,
            state             VARCHAR(32) NOT NULL,
            cvl               VARCHAR(32) NOT NULL,
            collateral_sats   BIGINT      NOT NULL,
            outstanding_cents BIGINT      NOT NULL,
            price_cents       BIGINT      NOT NULL,
            recorded_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
            PRIMARY KEY (facility_id, seq)
        );

        CREATE TABLE credit_disbursals (
            id                  UUID PRIMARY KEY,
            public_id           BIGINT       NOT NULL UNIQUE DEFAULT nextval('credit_public_ids'),
            facility_id         UUID         NOT NULL REFERENCES credit_facilities (id),
            amount_cents        BIGINT       NOT NULL CHECK (amount_cents > 0),
            status              VARCHAR(16)  NOT NULL,
            is_initial          BOOLEAN      NOT NULL DEFAULT false,
            approval_process_id UUID         NOT NULL,
            due_date            DATE         NOT NULL,
            overdue_date        DATE,
            liquidation_date    DATE,
            version             BIGINT       NOT NULL,
            created_by          VARCHAR(128) NOT NULL,
            created_at          TIMESTAMPTZ  NOT NULL DEFAULT now(),
            concluded_at        TIMESTAMPTZ
        );
        CREATE INDEX ix_credit_disbursals_created ON credit_disbursals (created_at, id);
        CREATE INDEX ix_credit_disbursals_facility ON credit_disbursals (facility_id, created_at);

        -- Principal obligations (one per settled disbursal); interest and the status lifecycle later.
        CREATE TABLE credit_obligations (
            id                 UUID PRIMARY KEY,
            facility_id        UUID        NOT NULL REFERENCES credit_facilities (id),
            disbursal_id       UUID        REFERENCES credit_disbursals (id),
            obligation_type    VARCHAR(16) NOT NULL,
            amount_cents       BIGINT      NOT NULL CHECK (amount_cents > 0),
            outstanding_cents  BIGINT      NOT NULL,
            status             VARCHAR(16) NOT NULL,
            reference          VARCHAR(80) NOT NULL UNIQUE,
            effective          DATE        NOT NULL,
            due_date           DATE        NOT NULL,
            overdue_date       DATE,
            liquidation_date   DATE,
            created_at         TIMESTAMPTZ NOT NULL DEFAULT now()
        );
        CREATE INDEX ix_credit_obligations_facility ON credit_obligations (facility_id);
        """
    )


def downgrade() -> None:
    run_script(
        """
        DROP TABLE credit_obligations;
        DROP TABLE credit_disbursals;
        DROP TABLE credit_collateralization_history;
        DROP TABLE credit_collateral_updates;
        DROP TABLE credit_facilities;
        DROP SEQUENCE credit_public_ids;
        """
    )
