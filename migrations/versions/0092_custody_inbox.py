"""Custody inbox (issue 19 part B, custody-price-reports.md §0 "Inbox", §1.7): verified custodian
webhooks, stored once, then processed by the wallet's workflow.

Revision ID: 0092_custody_inbox

- ``custody_inbox``: one row per verified notification. ``(provider, event_id)`` is unique: the
  provider's own event identity is the idempotency key, so a replayed webhook stores nothing new.
  ``status`` PENDING → COMPLETED | FAILED (``error`` keeps the reason, e.g. an unknown wallet after
  the bounded retries); ``notice`` is the parsed ``WebhookNotice``; ``body`` the raw body (bounded
  by the webhook body limit) for forensics; ``wallet_id`` is set once the notice found its wallet.
- A trigger adds each inbox row to the ``workflow_starts`` outbox (kind ``custody_notice``), so the
  worker's sweep (``workers/reconcile.py``) hands over a stored notice whose hand-over to Temporal
  was lost (the API died, or Temporal was away, between the insert and the signal).
- ``custody_wallets.released_at``: set when the facility completed and its collateral was released
  through the custody path; later notifications are stored and update the wallet's balance, but no
  longer move collateral.
"""

from migrations.sql import run_script

revision = "0092_custody_inbox"
down_revision = "0090_custody"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script(
        """
        CREATE TABLE custody_inbox (
            id                  UUID PRIMARY KEY,
            provider            VARCHAR(32)  NOT NULL,
            event_id            VARCHAR(256) NOT NULL,
            external_wallet_id  VARCHAR(200) NOT NULL,
            wallet_id           UUID,
            notice              JSONB        NOT NULL,
            body                TEXT         NOT NULL,
            status              VARCHAR(16)  NOT NULL DEFAULT 'PENDING'
                                CHECK (status IN ('PENDING', 'COMPLETED', 'FAILED')),
            error               TEXT,
            received_at         TIMESTAMPTZ  NOT NULL DEFAULT now(),
            processed_at        TIMESTAMPTZ,
            UNIQUE (provider, event_id)
        );
        CREATE INDEX ix_custody_inbox_wallet ON custody_inbox (wallet_id, received_at) WHERE wallet_id IS NOT NULL;
        CREATE INDEX ix_custody_inbox_pending ON custody_inbox (received_at) WHERE status = 'PENDING';

        CREATE FUNCTION custody_inbox_enqueue() RETURNS trigger LANGUAGE plpgsql AS $fn$
        BEGIN
            INSERT INTO workflow_starts (entity_kind, entity_id, created_at)
            VALUES ('custody_notice', NEW.id, NEW.received_at) ON CONFLICT DO NOTHING;
            RETURN NEW;
        END
        $fn$;
        CREATE TRIGGER custody_inbox_workflow_start AFTER INSERT ON custody_inbox
            FOR EACH ROW EXECUTE FUNCTION custody_inbox_enqueue();

        ALTER TABLE custody_wallets ADD COLUMN released_at TIMESTAMPTZ;
        CREATE INDEX ix_custody_wallets_provider ON custody_wallets (provider, id);
        """
    )


def downgrade() -> None:
    run_script(
        """
        DROP INDEX ix_custody_wallets_provider;
        ALTER TABLE custody_wallets DROP COLUMN released_at;
        DROP TRIGGER custody_inbox_workflow_start ON custody_inbox;
        DROP FUNCTION custody_inbox_enqueue();
        DELETE FROM workflow_starts WHERE entity_kind = 'custody_notice';
        DROP TABLE custody_inbox;
        """
    )
