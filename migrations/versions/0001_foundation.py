"""Foundation: event store and API idempotency records.

Revision ID: 0001_foundation
"""

from alembic import op

from migrations.sql import run_script

revision = "0001_foundation"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script(
        """
        CREATE TABLE events (
            id           BIGSERIAL PRIMARY KEY,
            entity_type  VARCHAR(64)  NOT NULL,
            entity_id    VARCHAR(64)  NOT NULL,
            sequence     BIGINT       NOT NULL CHECK (sequence > 0),
            event_type   VARCHAR(128) NOT NULL,
            payload      JSONB        NOT NULL,
            recorded_at  TIMESTAMPTZ  NOT NULL DEFAULT now(),
            CONSTRAINT uq_events_entity_sequence UNIQUE (entity_type, entity_id, sequence)
        );
        CREATE INDEX ix_events_type_recorded ON events (entity_type, recorded_at);

        -- The event store is append-only: refuse UPDATE and DELETE at the database level.
        CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'events are append-only';
        END $$;
        CREATE TRIGGER events_no_update BEFORE UPDATE OR DELETE ON events
            FOR EACH ROW EXECUTE FUNCTION events_append_only();

        CREATE TABLE api_idempotency (
            principal     VARCHAR(128) NOT NULL,
            key           VARCHAR(255) NOT NULL,
            method        VARCHAR(8)   NOT NULL,
            path          TEXT         NOT NULL,
            request_hash  CHAR(64)     NOT NULL,
            status_code   INTEGER      NOT NULL,
            response_body JSONB,
            headers       JSONB        NOT NULL DEFAULT '{}'::jsonb,
            created_at    TIMESTAMPTZ  NOT NULL DEFAULT now(),
            PRIMARY KEY (principal, key)
        );
        """
    )


def downgrade() -> None:
    run_script("DROP TABLE api_idempotency; DROP TABLE events; DROP FUNCTION events_append_only();")
