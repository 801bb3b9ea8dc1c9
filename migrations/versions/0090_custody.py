"""Custody (issue 19, custody-price-reports.md §1): custodians and one collateral wallet per facility.

Revision ID: 0090_custody

- ``custody_custodians``: the read model of the custodian aggregate (events in ``events``,
  ``entity_type = 'custodian'``). ``name`` and ``provider`` are unique (§1.2: at most one custodian
  per kind). The config is stored **only encrypted**: ``encrypted_config`` is
  ``{ciphertext, nonce, key_id}`` (base64 strings, ChaCha20-Poly1305, §1.4) and ``key_id`` repeats
  its key id so a key rotation finds what is left in one indexed query. ``next_receive_index`` is
  the self-custody derivation index the next wallet takes (never reused).
- ``custody_wallets``: one wallet per facility (``facility_id`` unique), created at proposal
  approval; ``external_wallet_id`` is the provider's id and is **not** unique (the mock's ``123``):
  a notification goes to the most recently created wallet with that id
  (``ix_custody_wallets_external``). ``balance_sats`` / ``balance_changed_at`` = the last
  ``balance_changed`` event (``entity_type = 'custody_wallet'``); null until the first.

A new branch of its own (``upgrade heads`` applies every branch).
"""

from migrations.sql import run_script

revision = "0090_custody"
down_revision = "0080_credit_liquidations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script(
        """
        CREATE TABLE custody_custodians (
            id                  UUID PRIMARY KEY,
            name                VARCHAR(200) NOT NULL UNIQUE,
            provider            VARCHAR(32)  NOT NULL UNIQUE,
            encrypted_config    JSONB,
            key_id              VARCHAR(16),
            next_receive_index  INTEGER      NOT NULL DEFAULT 0 CHECK (next_receive_index >= 0),
            version             BIGINT       NOT NULL,
            created_by          VARCHAR(128) NOT NULL,
            created_at          TIMESTAMPTZ  NOT NULL DEFAULT now(),
            updated_at          TIMESTAMPTZ  NOT NULL DEFAULT now()
        );
        CREATE INDEX ix_custody_custodians_key ON custody_custodians (key_id);
        CREATE INDEX ix_custody_custodians_created ON custody_custodians (created_at, id);

        CREATE TABLE custody_wallets (
            id                  UUID PRIMARY KEY,
            custodian_id        UUID         NOT NULL REFERENCES custody_custodians (id),
            provider            VARCHAR(32)  NOT NULL,
            facility_id         UUID         NOT NULL UNIQUE REFERENCES credit_facilities (id),
            collateral_id       UUID         NOT NULL,
            external_wallet_id  VARCHAR(200) NOT NULL,
            address             VARCHAR(200) NOT NULL,
            network             VARCHAR(16)  NOT NULL,
            receive_index       INTEGER,
            custodian_response  JSONB        NOT NULL DEFAULT '{}'::jsonb,
            balance_sats        BIGINT CHECK (balance_sats >= 0),
            balance_changed_at  TIMESTAMPTZ,
            version             BIGINT       NOT NULL,
            created_at          TIMESTAMPTZ  NOT NULL DEFAULT now()
        );
        CREATE INDEX ix_custody_wallets_external ON custody_wallets (provider, external_wallet_id, created_at DESC);
        CREATE INDEX ix_custody_wallets_custodian ON custody_wallets (custodian_id, created_at, id);
        """
    )


def downgrade() -> None:
    run_script("DROP TABLE custody_wallets; DROP TABLE custody_custodians;")
