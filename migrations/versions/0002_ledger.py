"""Ledger: journals, accounts, account sets, transactions, entries, balances + history, ledger_post().

Revision ID: 0002_ledger

Posting is ONE call of the PL/pgSQL function ``ledger_post`` (one round trip, one PostgreSQL
transaction). Current balances live in ``ledger_current_balances`` (one row per account and
currency, created with the account, updated in place: HOT updates, fillfactor 70); every change is
appended to ``ledger_balance_history`` with a per-(account, currency) version, so as-of reads are an
index lookup. Account-set balances are rolled up at read time (see activities/ledger/balances.py).

Error SQLSTATEs (mapped in activities/ledger/errors.py):
  LG001 idempotency key reused with a different request   LG002 duplicate transaction id / external id
  LG003 unbalanced transaction                             LG004 account locked / unknown
  LG005 journal locked / unknown                           LG006 balance control breached
  LG007 malformed entries
"""

from migrations.sql import run_script

revision = "0002_ledger"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None

DEFAULT_JOURNAL_ID = "00000000-0000-0000-0000-00000000a001"


def upgrade() -> None:
    run_script(
        f"""
        CREATE TABLE ledger_journals (
            id          UUID PRIMARY KEY,
            code        TEXT NOT NULL UNIQUE,
            name        TEXT NOT NULL,
            status      TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'locked')),
            description TEXT,
            created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
        );
        INSERT INTO ledger_journals (id, code, name, description)
        VALUES ('{DEFAULT_JOURNAL_ID}', 'LANA_BANK_JOURNAL', 'General Ledger', 'The bank''s one journal');

        CREATE TABLE ledger_accounts (
            id                  UUID PRIMARY KEY,
            code                TEXT NOT NULL UNIQUE,
            name                TEXT NOT NULL,
            external_id         TEXT UNIQUE,
            normal_balance_type TEXT NOT NULL CHECK (normal_balance_type IN ('debit', 'credit')),
            status              TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'locked')),
            description         TEXT,
            metadata            JSONB NOT NULL DEFAULT '{{}}'::jsonb,
            -- Balance control: refuse a posting that takes this balance (signed by the normal side)
            -- below zero. NULL = no control.
            min_zero            TEXT CHECK (min_zero IN ('settled', 'available')),
            created_at          TIMESTAMPTZ NOT NULL DEFAULT now()
        );

        CREATE TABLE ledger_account_sets (
            id                  UUID PRIMARY KEY,
            journal_id          UUID NOT NULL REFERENCES ledger_journals (id),
            name                TEXT NOT NULL,
            external_id         TEXT UNIQUE,
            normal_balance_type TEXT NOT NULL CHECK (normal_balance_type IN ('debit', 'credit')),
            description         TEXT,
            metadata            JSONB NOT NULL DEFAULT '{{}}'::jsonb,
            created_at          TIMESTAMPTZ NOT NULL DEFAULT now()
        );

        -- Direct edges only; transitive membership is a recursive CTE at read time.
        CREATE TABLE ledger_set_members (
            set_id            UUID NOT NULL REFERENCES ledger_account_sets (id),
            member_account_id UUID REFERENCES ledger_accounts (id),
            member_set_id     UUID REFERENCES ledger_account_sets (id),
            created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
            member_id         UUID GENERATED ALWAYS AS (COALESCE(member_account_id, member_set_id)) STORED,
            CHECK ((member_account_id IS NULL) <> (member_set_id IS NULL)),
            CHECK (member_set_id IS DISTINCT FROM set_id),
            PRIMARY KEY (set_id, member_id)
        );
        CREATE INDEX ix_ledger_set_members_member ON ledger_set_members (member_id);

        CREATE TABLE ledger_transactions (
            id               UUID PRIMARY KEY,
            journal_id       UUID NOT NULL REFERENCES ledger_journals (id),
            template_code    TEXT NOT NULL,
            template_version INTEGER NOT NULL,
            idempotency_key  TEXT NOT NULL UNIQUE,
            request_hash     TEXT NOT NULL,
            external_id      TEXT UNIQUE,
            correlation_id   TEXT NOT NULL,
            effective        DATE NOT NULL,
            description      TEXT,
            metadata         JSONB NOT NULL DEFAULT '{{}}'::jsonb,
            recorded_at      TIMESTAMPTZ NOT NULL
        );

        CREATE TABLE ledger_entries (
            transaction_id UUID NOT NULL REFERENCES ledger_transactions (id),
            sequence       SMALLINT NOT NULL,
            account_id     UUID NOT NULL REFERENCES ledger_accounts (id),
            currency       TEXT NOT NULL CHECK (currency IN ('USD', 'BTC')),
            units          BIGINT NOT NULL CHECK (units > 0),
            direction      TEXT NOT NULL CHECK (direction IN ('debit', 'credit')),
            layer          TEXT NOT NULL CHECK (layer IN ('settled', 'pending', 'encumbrance')),
            entry_type     TEXT NOT NULL,
            effective      DATE NOT NULL,
            recorded_at    TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (transaction_id, sequence)
        );
        -- Account history, newest first (keyset pagination).
        CREATE INDEX ix_ledger_entries_account_recorded
            ON ledger_entries (account_id, recorded_at DESC, transaction_id DESC, sequence DESC);
        -- Range reads by effective date: index-only sums.
        CREATE INDEX ix_ledger_entries_account_effective
            ON ledger_entries (account_id, currency, effective) INCLUDE (layer, direction, units);

        CREATE TABLE ledger_current_balances (
            account_id     UUID NOT NULL REFERENCES ledger_accounts (id),
            currency       TEXT NOT NULL CHECK (currency IN ('USD', 'BTC')),
            settled_dr     BIGINT NOT NULL DEFAULT 0,
            settled_cr     BIGINT NOT NULL DEFAULT 0,
            pending_dr     BIGINT NOT NULL DEFAULT 0,
            pending_cr     BIGINT NOT NULL DEFAULT 0,
            encumbrance_dr BIGINT NOT NULL DEFAULT 0,
            encumbrance_cr BIGINT NOT NULL DEFAULT 0,
            version        BIGINT NOT NULL DEFAULT 0,
            modified_at    TIMESTAMPTZ,
            PRIMARY KEY (account_id, currency)
        ) WITH (fillfactor = 70);

        CREATE TABLE ledger_balance_history (
            account_id     UUID NOT NULL,
            currency       TEXT NOT NULL,
            version        BIGINT NOT NULL,
            transaction_id UUID NOT NULL,
            recorded_at    TIMESTAMPTZ NOT NULL,
            settled_dr     BIGINT NOT NULL,
            settled_cr     BIGINT NOT NULL,
            pending_dr     BIGINT NOT NULL,
            pending_cr     BIGINT NOT NULL,
            encumbrance_dr BIGINT NOT NULL,
            encumbrance_cr BIGINT NOT NULL,
            PRIMARY KEY (account_id, currency, version)
        );
        CREATE INDEX ix_ledger_balance_history_asof
            ON ledger_balance_history (account_id, currency, recorded_at DESC);

        CREATE FUNCTION ledger_post(
            p_tx_id UUID, p_journal_id UUID, p_template_code TEXT, p_template_version INTEGER,
            p_idempotency_key TEXT, p_request_hash TEXT, p_external_id TEXT, p_correlation_id TEXT,
            p_effective DATE, p_description TEXT, p_metadata JSONB,
            p_accounts UUID[], p_currencies TEXT[], p_units BIGINT[], p_directions TEXT[],
            p_layers TEXT[], p_entry_types TEXT[],
            OUT tx_id UUID, OUT recorded_at TIMESTAMPTZ, OUT replayed BOOLEAN
        ) LANGUAGE plpgsql AS $fn$
        DECLARE
            v_n INTEGER := cardinality(p_accounts);
            v_existing RECORD;
            v_bad RECORD;
            v_rows INTEGER;
            v_inactive INTEGER;
            v_missing TEXT;
            v_ts TIMESTAMPTZ;
        BEGIN
            -- 1. Replay? (an index probe; no locks taken for a replay)
            SELECT t.id, t.request_hash, t.recorded_at INTO v_existing
              FROM ledger_transactions t WHERE t.idempotency_key = p_idempotency_key;
            IF FOUND THEN
                IF v_existing.request_hash <> p_request_hash THEN
                    RAISE EXCEPTION USING ERRCODE = 'LG001', MESSAGE = p_idempotency_key;
                END IF;
                tx_id := v_existing.id; recorded_at := v_existing.recorded_at; replayed := true;
                RETURN;
            END IF;

            -- 2. Shape and balance per (currency, layer), again here (the domain checked first).
            IF v_n IS NULL OR v_n < 2 OR cardinality(p_currencies) <> v_n OR cardinality(p_units) <> v_n
               OR cardinality(p_directions) <> v_n OR cardinality(p_layers) <> v_n
               OR cardinality(p_entry_types) <> v_n THEN
                RAISE EXCEPTION USING ERRCODE = 'LG007', MESSAGE = 'entries arrays malformed';
            END IF;
            SELECT c, l, s INTO v_bad FROM (
                SELECT c, l, sum(CASE d WHEN 'debit' THEN u WHEN 'credit' THEN -u END) AS s
                  FROM unnest(p_currencies, p_layers, p_directions, p_units) AS e(c, l, d, u)
                 GROUP BY c, l) x
             WHERE s IS DISTINCT FROM 0 LIMIT 1;
            IF FOUND THEN
                RAISE EXCEPTION USING ERRCODE = 'LG003',
                    MESSAGE = format('%s/%s/%s', v_bad.c, v_bad.l, v_bad.s);
            END IF;

            PERFORM 1 FROM ledger_journals j WHERE j.id = p_journal_id AND j.status = 'active';
            IF NOT FOUND THEN
                RAISE EXCEPTION USING ERRCODE = 'LG005', MESSAGE = p_journal_id::text;
            END IF;

            -- 3. Lock the balance rows in canonical order (deadlock-free), refusing locked accounts.
            SELECT count(*), count(*) FILTER (WHERE a.status <> 'active') INTO v_rows, v_inactive
              FROM (SELECT b.account_id FROM ledger_current_balances b
                     WHERE (b.account_id, b.currency) IN
                           (SELECT * FROM unnest(p_accounts, p_currencies))
                     ORDER BY b.account_id, b.currency FOR UPDATE) lk
              JOIN ledger_accounts a ON a.id = lk.account_id;
            IF v_inactive > 0 OR v_rows <> (SELECT count(DISTINCT (x, y)) FROM unnest(p_accounts, p_currencies) AS z(x, y)) THEN
                SELECT string_agg(DISTINCT e.x::text, ',') INTO v_missing FROM unnest(p_accounts) AS e(x)
                 WHERE NOT EXISTS (SELECT 1 FROM ledger_accounts a WHERE a.id = e.x AND a.status = 'active');
                RAISE EXCEPTION USING ERRCODE = 'LG004', MESSAGE = coalesce(v_missing, 'unknown');
            END IF;

            -- 4. One timestamp, taken under the locks: monotonic per (account, currency).
            v_ts := clock_timestamp();
            INSERT INTO ledger_transactions (id, journal_id, template_code, template_version, idempotency_key,
                   request_hash, external_id, correlation_id, effective, description, metadata, recorded_at)
            VALUES (p_tx_id, p_journal_id, p_template_code, p_template_version, p_idempotency_key,
                    p_request_hash, p_external_id, coalesce(p_correlation_id, p_tx_id::text), p_effective,
                    p_description, coalesce(p_metadata, '{{}}'::jsonb), v_ts)
            ON CONFLICT DO NOTHING;
            IF NOT FOUND THEN
                -- A concurrent poster with the same key committed meanwhile, or the id is taken.
                SELECT t.id, t.request_hash, t.recorded_at INTO v_existing
                  FROM ledger_transactions t WHERE t.idempotency_key = p_idempotency_key;
                IF FOUND AND v_existing.request_hash = p_request_hash THEN
                    tx_id := v_existing.id; recorded_at := v_existing.recorded_at; replayed := true;
                    RETURN;
                ELSIF FOUND THEN
                    RAISE EXCEPTION USING ERRCODE = 'LG001', MESSAGE = p_idempotency_key;
                END IF;
                RAISE EXCEPTION USING ERRCODE = 'LG002', MESSAGE = p_tx_id::text;
            END IF;

            INSERT INTO ledger_entries (transaction_id, sequence, account_id, currency, units, direction,
                                        layer, entry_type, effective, recorded_at)
            SELECT p_tx_id, e.n, e.a, e.c, e.u, e.d, e.l, e.t, p_effective, v_ts
              FROM unnest(p_accounts, p_currencies, p_units, p_directions, p_layers, p_entry_types)
                   WITH ORDINALITY AS e(a, c, u, d, l, t, n);

            -- 5. Apply deltas, append history, and check balance controls on the new state.
            WITH d AS (
                SELECT a, c,
                  coalesce(sum(u) FILTER (WHERE l = 'settled' AND d = 'debit'), 0) AS sdr,
                  coalesce(sum(u) FILTER (WHERE l = 'settled' AND d = 'credit'), 0) AS scr,
                  coalesce(sum(u) FILTER (WHERE l = 'pending' AND d = 'debit'), 0) AS pdr,
                  coalesce(sum(u) FILTER (WHERE l = 'pending' AND d = 'credit'), 0) AS pcr,
                  coalesce(sum(u) FILTER (WHERE l = 'encumbrance' AND d = 'debit'), 0) AS edr,
                  coalesce(sum(u) FILTER (WHERE l = 'encumbrance' AND d = 'credit'), 0) AS ecr
                FROM unnest(p_accounts, p_currencies, p_units, p_directions, p_layers) AS e(a, c, u, d, l)
                GROUP BY a, c
            ), upd AS (
                UPDATE ledger_current_balances b SET
                    settled_dr = b.settled_dr + d.sdr, settled_cr = b.settled_cr + d.scr,
                    pending_dr = b.pending_dr + d.pdr, pending_cr = b.pending_cr + d.pcr,
                    encumbrance_dr = b.encumbrance_dr + d.edr, encumbrance_cr = b.encumbrance_cr + d.ecr,
                    version = b.version + 1, modified_at = v_ts
                  FROM d WHERE b.account_id = d.a AND b.currency = d.c
                RETURNING b.*
            ), hist AS (
                INSERT INTO ledger_balance_history
                SELECT u.account_id, u.currency, u.version, p_tx_id, v_ts, u.settled_dr, u.settled_cr,
                       u.pending_dr, u.pending_cr, u.encumbrance_dr, u.encumbrance_cr
                  FROM upd u
            ), signed AS (
                SELECT u.account_id, u.currency, a.min_zero,
                       CASE a.normal_balance_type WHEN 'debit' THEN 1 ELSE -1 END
                         * (u.settled_dr - u.settled_cr) AS settled,
                       CASE a.normal_balance_type WHEN 'debit' THEN 1 ELSE -1 END
                         * (u.settled_dr - u.settled_cr + u.pending_dr - u.pending_cr
                            + u.encumbrance_dr - u.encumbrance_cr) AS available
                  FROM upd u JOIN ledger_accounts a ON a.id = u.account_id
                 WHERE a.min_zero IS NOT NULL
            )
            SELECT s.account_id, s.currency, s.min_zero,
                   CASE s.min_zero WHEN 'settled' THEN s.settled ELSE s.available END AS bal
              INTO v_bad FROM signed s
             WHERE CASE s.min_zero WHEN 'settled' THEN s.settled ELSE s.available END < 0
             ORDER BY s.account_id, s.currency LIMIT 1;
            IF FOUND THEN
                RAISE EXCEPTION USING ERRCODE = 'LG006',
                    MESSAGE = format('%s/%s/%s/%s', v_bad.account_id, v_bad.currency, v_bad.min_zero, -v_bad.bal);
            END IF;

            tx_id := p_tx_id; recorded_at := v_ts; replayed := false;
        END $fn$;
        """
    )


def downgrade() -> None:
    run_script(
        """
        DROP FUNCTION ledger_post;
        DROP TABLE ledger_balance_history, ledger_current_balances, ledger_entries, ledger_transactions,
                   ledger_set_members, ledger_account_sets, ledger_accounts, ledger_journals;
        """
    )
