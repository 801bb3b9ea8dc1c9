"""Customers: read models for customers and their documents.

Revision ID: 0004_customers
"""

from migrations.sql import run_script

revision = "0004_customers"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script(
        """
        CREATE TABLE customers (
            id                UUID PRIMARY KEY,
            email             VARCHAR(320) NOT NULL,
            telegram_handle   VARCHAR(64)  NOT NULL,
            customer_type     VARCHAR(32)  NOT NULL,
            kyc_status        VARCHAR(32)  NOT NULL DEFAULT 'PendingVerification',
            kyc_level         VARCHAR(16)  NOT NULL DEFAULT 'NotKyced',
            applicant_id      VARCHAR(64),
            activity          VARCHAR(16)  NOT NULL DEFAULT 'Active',
            last_activity_at  TIMESTAMPTZ  NOT NULL,
            version           BIGINT       NOT NULL,
            created_at        TIMESTAMPTZ  NOT NULL DEFAULT now(),
            updated_at        TIMESTAMPTZ  NOT NULL DEFAULT now()
        );
        CREATE UNIQUE INDEX uq_customers_email ON customers (lower(email));
        CREATE UNIQUE INDEX uq_customers_telegram ON customers (lower(telegram_handle));
        CREATE INDEX ix_customers_created ON customers (created_at, id);
        CREATE INDEX ix_customers_type_created ON customers (customer_type, created_at, id);
        CREATE INDEX ix_customers_kyc_created ON customers (kyc_status, created_at, id);
        CREATE INDEX ix_customers_activity_created ON customers (activity, created_at, id);
        -- the daily classification pages through customers that can still change class
        CREATE INDEX ix_customers_classifiable ON customers (id) WHERE activity <> 'Suspended';

        CREATE TABLE customer_documents (
            id                 UUID PRIMARY KEY,
            customer_id        UUID         NOT NULL REFERENCES customers (id),
            original_filename  VARCHAR(255) NOT NULL,
            sanitized_filename VARCHAR(255) NOT NULL,
            content_type       VARCHAR(128) NOT NULL,
            size_bytes         BIGINT       NOT NULL,
            sha256             CHAR(64)     NOT NULL,
            path_in_storage    TEXT         NOT NULL,
            storage_identifier TEXT         NOT NULL,
            status             VARCHAR(16)  NOT NULL,
            deleted            BOOLEAN      NOT NULL DEFAULT false,
            version            BIGINT       NOT NULL,
            created_at         TIMESTAMPTZ  NOT NULL DEFAULT now(),
            updated_at         TIMESTAMPTZ  NOT NULL DEFAULT now()
        );
        CREATE INDEX ix_customer_documents_customer ON customer_documents (customer_id, created_at DESC);
        """
    )


def downgrade() -> None:
    run_script("DROP TABLE customer_documents; DROP TABLE customers;")
