"""Access control (users, roles, permission sets, casbin policies) and the hash-chained audit log.

Revision ID: 0003_access
"""

from migrations.sql import run_script

revision = "0003_access"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script(
        """
        CREATE TABLE access_permission_sets (
            id          UUID PRIMARY KEY,
            name        VARCHAR(64)  NOT NULL UNIQUE,
            description TEXT         NOT NULL DEFAULT '',
            created_at  TIMESTAMPTZ  NOT NULL DEFAULT now()
        );
        CREATE TABLE access_roles (
            id          UUID PRIMARY KEY,
            name        VARCHAR(128) NOT NULL UNIQUE,
            version     BIGINT       NOT NULL DEFAULT 0,
            created_at  TIMESTAMPTZ  NOT NULL DEFAULT now()
        );
        CREATE TABLE access_role_permission_sets (
            role_id           UUID NOT NULL REFERENCES access_roles (id),
            permission_set_id UUID NOT NULL REFERENCES access_permission_sets (id),
            PRIMARY KEY (role_id, permission_set_id)
        );
        CREATE TABLE access_users (
            id          UUID PRIMARY KEY,
            email       VARCHAR(320) NOT NULL UNIQUE,
            role_id     UUID         NOT NULL REFERENCES access_roles (id),
            version     BIGINT       NOT NULL DEFAULT 0,
            created_at  TIMESTAMPTZ  NOT NULL DEFAULT now()
        );
        CREATE INDEX ix_access_users_created ON access_users (created_at, id);

        -- casbin policies (governance-access-audit.md §B2): p = grants, g = groupings.
        CREATE TABLE casbin_rule (
            id    BIGSERIAL PRIMARY KEY,
            ptype VARCHAR(8)   NOT NULL,
            v0    VARCHAR(255) NOT NULL DEFAULT '',
            v1    VARCHAR(255) NOT NULL DEFAULT '',
            v2    VARCHAR(255) NOT NULL DEFAULT '',
            v3    VARCHAR(255) NOT NULL DEFAULT '',
            v4    VARCHAR(255) NOT NULL DEFAULT '',
            v5    VARCHAR(255) NOT NULL DEFAULT ''
        );
        CREATE UNIQUE INDEX uq_casbin_rule ON casbin_rule (ptype, v0, v1, v2, v3, v4, v5);

        -- Every change to casbin_rule bumps this counter in the same transaction; each API instance
        -- compares it with the version its enforcer was loaded at, on every request.
        CREATE TABLE access_policy_version (
            id      SMALLINT PRIMARY KEY CHECK (id = 1),
            version BIGINT   NOT NULL
        );
        INSERT INTO access_policy_version VALUES (1, 1);
        CREATE FUNCTION access_policy_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'TRUNCATE' OR EXISTS (SELECT 1 FROM changed) THEN
                UPDATE access_policy_version SET version = version + 1 WHERE id = 1;
            END IF;
            RETURN NULL;
        END $$;
        CREATE FUNCTION access_policy_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE access_policy_version SET version = version + 1 WHERE id = 1;
            RETURN NULL;
        END $$;
        CREATE TRIGGER casbin_rule_ins AFTER INSERT ON casbin_rule REFERENCING NEW TABLE AS changed
            FOR EACH STATEMENT EXECUTE FUNCTION access_policy_changed();
        CREATE TRIGGER casbin_rule_upd AFTER UPDATE ON casbin_rule REFERENCING NEW TABLE AS changed
            FOR EACH STATEMENT EXECUTE FUNCTION access_policy_changed();
        CREATE TRIGGER casbin_rule_del AFTER DELETE ON casbin_rule REFERENCING OLD TABLE AS changed
            FOR EACH STATEMENT EXECUTE FUNCTION access_policy_changed();
        CREATE TRIGGER casbin_rule_trunc AFTER TRUNCATE ON casbin_rule
            FOR EACH STATEMENT EXECUTE FUNCTION access_policy_truncated();

        -- Audit log (§C1). Entries take a sequence id on insert and the inserting transaction's id;
        -- the sealer chains them in (tx_id, id) order once every transaction below its snapshot's
        -- xmin has ended, so the chained prefix can never gain an entry in its middle.
        CREATE TABLE audit_entries (
            id          BIGSERIAL    PRIMARY KEY,
            tx_id       XID8         NOT NULL DEFAULT pg_current_xact_id(),
            subject     VARCHAR(128) NOT NULL,
            object      VARCHAR(255) NOT NULL,
            action      VARCHAR(128) NOT NULL,
            authorized  BOOLEAN      NOT NULL,
            recorded_at TIMESTAMPTZ  NOT NULL DEFAULT clock_timestamp(),
            request_id  VARCHAR(128),
            workflow_id VARCHAR(255)
        );
        CREATE INDEX ix_audit_subject ON audit_entries (subject);
        CREATE INDEX ix_audit_object ON audit_entries (object);
        CREATE INDEX ix_audit_action ON audit_entries (action);
        CREATE INDEX ix_audit_authorized ON audit_entries (authorized);
        CREATE INDEX ix_audit_recorded ON audit_entries (recorded_at);
        CREATE INDEX ix_audit_chain_order ON audit_entries (tx_id, id);

        CREATE TABLE audit_seals (
            position  BIGINT      PRIMARY KEY,
            entry_id  BIGINT      NOT NULL UNIQUE,
            hash      BYTEA       NOT NULL,
            sealed_at TIMESTAMPTZ NOT NULL DEFAULT now()
        );

        CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'the audit log is append-only';
        END $$;
        CREATE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE ON audit_entries
            FOR EACH ROW EXECUTE FUNCTION audit_append_only();
        CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries
            FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
        CREATE TRIGGER audit_seals_append_only BEFORE UPDATE OR DELETE ON audit_seals
            FOR EACH ROW EXECUTE FUNCTION audit_append_only();
        CREATE TRIGGER audit_seals_no_truncate BEFORE TRUNCATE ON audit_seals
            FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
        """
    )


def downgrade() -> None:
    run_script(
        """
        DROP TABLE audit_seals; DROP TABLE audit_entries; DROP FUNCTION audit_append_only();
        DROP TABLE casbin_rule; DROP FUNCTION access_policy_changed(); DROP FUNCTION access_policy_truncated();
        DROP TABLE access_policy_version; DROP TABLE access_users; DROP TABLE access_role_permission_sets;
        DROP TABLE access_roles; DROP TABLE access_permission_sets;
        """
    )
