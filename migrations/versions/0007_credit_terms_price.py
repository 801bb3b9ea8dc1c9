"""Credit terms templates and the BTC price feed (latest price, history, manual price).

Revision ID: 0007_credit_terms_price
"""

from migrations.sql import run_script

revision = "0007_credit_terms_price"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script(
        """
        CREATE TABLE terms_templates (
            id          UUID PRIMARY KEY,
            name        VARCHAR(200) NOT NULL,
            term_values JSONB        NOT NULL,
            version     BIGINT       NOT NULL,
            created_by  VARCHAR(128) NOT NULL,
            created_at  TIMESTAMPTZ  NOT NULL DEFAULT now(),
            updated_at  TIMESTAMPTZ  NOT NULL DEFAULT now()
        );
        CREATE UNIQUE INDEX uq_terms_templates_name ON terms_templates (lower(name));
        CREATE INDEX ix_terms_templates_created ON terms_templates (created_at, id);

        -- One row: the price in force. observed_at = last time the feed confirmed it (staleness),
        -- changed_at = when the value last changed.
        CREATE TABLE price_latest (
            id                 SMALLINT PRIMARY KEY CHECK (id = 1),
            usd_cents_per_btc  BIGINT       NOT NULL CHECK (usd_cents_per_btc > 0),
            source             VARCHAR(16)  NOT NULL,
            observed_at        TIMESTAMPTZ  NOT NULL,
            changed_at         TIMESTAMPTZ  NOT NULL,
            version            BIGINT       NOT NULL
        );
        -- One row per change of the price in force.
        CREATE TABLE price_history (
            id                 BIGSERIAL PRIMARY KEY,
            usd_cents_per_btc  BIGINT       NOT NULL CHECK (usd_cents_per_btc > 0),
            previous_cents     BIGINT,
            source             VARCHAR(16)  NOT NULL,
            observed_at        TIMESTAMPTZ  NOT NULL,
            recorded_at        TIMESTAMPTZ  NOT NULL DEFAULT now()
        );
        CREATE INDEX ix_price_history_observed ON price_history (observed_at DESC, id DESC);
        -- The operator's price for LANA_PRICE_SOURCE=manual.
        CREATE TABLE price_manual (
            id                 SMALLINT PRIMARY KEY CHECK (id = 1),
            usd_cents_per_btc  BIGINT       NOT NULL CHECK (usd_cents_per_btc > 0),
            set_by             VARCHAR(128) NOT NULL,
            set_at             TIMESTAMPTZ  NOT NULL
        );
        """
    )


def downgrade() -> None:
    run_script("DROP TABLE price_manual; DROP TABLE price_history; DROP TABLE price_latest; "
               "DROP TABLE terms_templates;")
