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
            journal_id       UUID NOT NULL,  -- checked by ledger_post (no FK: no KEY SHARE lock per posting)
            template_code    TEXT NOT NULL,
            template_version INTEGER NOT NULL,
            idempotency_key  TEXT NOT NULL UNIQUE,
            request_hash     TEXT NOT NULL,
            external_id      TEXT,
            correlation_id   TEXT NOT NULL,
            effective        DATE NOT NULL,
            description      TEXT,
            metadata         JSONB NOT NULL DEFAULT '{{}}'::jsonb,
            recorded_at      TIMESTAMPTZ NOT NULL
        );
        CREATE UNIQUE INDEX ux_ledger_transactions_external_id ON ledger_transactions (external_id)
            WHERE external_id IS NOT NULL;

        -- Written only by ledger_post, which guarantees both references (the transaction row is
        -- inserted in the same call; every account has a locked balance row, itself FK-checked).
        -- No FKs here: each would take a KEY SHARE row lock per entry, i.e. a tuple-header write
        -- (and a multixact under concurrency) on hot accounts.
        CREATE TABLE ledger_entries (
            transaction_id UUID NOT NULL,
            sequence       SMALLINT NOT NULL,
            account_id     UUID NOT NULL,
            currency       TEXT NOT NULL CHECK (currency IN ('USD', 'BTC')),
            units          BIGINT NOT NULL CHECK (units > 0),
            direction      TEXT NOT NULL CHECK (direction IN ('debit', 'credit')),
            layer          TEXT NOT NULL CHECK (layer IN ('settled', 'pending', 'encumbrance')),
            entry_type     TEXT NOT NULL,
            effective      DATE NOT NULL,
            recorded_at    TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (transaction_id, sequence)
        );
        -- Account history, newest first (keyset pagination, read backwards). Ascending keys so a
        -- hot account's new entries land at the right end of its key range.
        CREATE INDEX ix_ledger_entries_account_recorded
            ON ledger_entries (account_id, recorded_at, transaction_id, sequence);
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
            encumbrance_cr BIGINT NOT NULL
        );
        -- One index serves as-of reads; (account, currency, version) is unique by construction
        -- (the version is bumped under the row lock), so no second unique index is paid per posting.
        CREATE INDEX ix_ledger_balance_history_asof
            ON ledger_balance_history (account_id, currency, recorded_at);

        CREATE FUNCTION ledger_post(
            p_tx_id UUID, p_journal_id UUID, p_template_code TEXT, p_template_version INTEGER,
            p_idempotency_key TEXT, p_request_hash TEXT, p_external_id TEXT, p_correlation_id TEXT,
            p_effective DATE, p_description TEXT, p_metadata JSONB,
            p_accounts UUID[], p_currencies TEXT[], p_units BIGINT[], p_directions TEXT[],
            p_layers TEXT[], p_entry_types TEXT[],
            OUT tx_id UUID, OUT recorded_at TIMESTAMPTZ, OUT replayed BOOLEAN, OUT effective DATE
        ) LANGUAGE plpgsql
        -- Every statement below is an index lookup or a small unnest: the generic plan is the
        -- right plan, and re-planning custom plans on every call cost more than executing them.
        SET plan_cache_mode = force_generic_plan
        AS $fn$
        DECLARE
            v_n INTEGER := cardinality(p_accounts);
            v_existing RECORD;
            v_bad RECORD;
            k RECORD;
            b RECORD;
            v_status TEXT;
            v_bal BIGINT;
            v_ts TIMESTAMPTZ;
        BEGIN
            -- 1. Replay? (an index probe; a replay takes no locks)
            SELECT t.id, t.request_hash, t.recorded_at, t.effective INTO v_existing
              FROM ledger_transactions t WHERE t.idempotency_key = p_idempotency_key;
            IF FOUND THEN
                IF v_existing.request_hash <> p_request_hash THEN
                    RAISE EXCEPTION USING ERRCODE = 'LG001', MESSAGE = p_idempotency_key;
                END IF;
                tx_id := v_existing.id; recorded_at := v_existing.recorded_at; replayed := true;
                    effective := v_existing.effective;
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
            SELECT j.status INTO v_status FROM ledger_journals j WHERE j.id = p_journal_id;
            IF v_status IS DISTINCT FROM 'active' THEN
                RAISE EXCEPTION USING ERRCODE = 'LG005', MESSAGE = p_journal_id::text;
            END IF;

            -- 3. Lock the balance rows one by one in canonical (account, currency) order: every
            --    poster acquires its locks in the same global order, so posters never deadlock.
            FOR k IN SELECT DISTINCT e.a, e.c FROM unnest(p_accounts, p_currencies) AS e(a, c) ORDER BY 1, 2 LOOP
                SELECT a.status INTO v_status
                  FROM ledger_current_balances cb JOIN ledger_accounts a ON a.id = cb.account_id
                 WHERE cb.account_id = k.a AND cb.currency = k.c FOR UPDATE OF cb;
                IF v_status IS DISTINCT FROM 'active' THEN
                    RAISE EXCEPTION USING ERRCODE = 'LG004', MESSAGE = k.a::text;
                END IF;
            END LOOP;

            -- 4. One timestamp, taken under all the locks: monotonic per (account, currency).
            v_ts := clock_timestamp();
            INSERT INTO ledger_transactions (id, journal_id, template_code, template_version, idempotency_key,
                   request_hash, external_id, correlation_id, effective, description, metadata, recorded_at)
            VALUES (p_tx_id, p_journal_id, p_template_code, p_template_version, p_idempotency_key,
                    p_request_hash, p_external_id, coalesce(p_correlation_id, p_tx_id::text), p_effective,
                    p_description, coalesce(p_metadata, '{{}}'::jsonb), v_ts)
            ON CONFLICT DO NOTHING;
            IF NOT FOUND THEN
                -- A concurrent poster with the same key committed meanwhile, or the id is taken.
                SELECT t.id, t.request_hash, t.recorded_at, t.effective INTO v_existing
                  FROM ledger_transactions t WHERE t.idempotency_key = p_idempotency_key;
                IF FOUND AND v_existing.request_hash = p_request_hash THEN
                    tx_id := v_existing.id; recorded_at := v_existing.recorded_at; replayed := true;
                    effective := v_existing.effective;
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

            -- 5. Apply the net deltas, append history, check balance controls on the new state.
            FOR k IN
                SELECT e.a, e.c,
                  coalesce(sum(e.u) FILTER (WHERE e.l = 'settled' AND e.d = 'debit'), 0) AS sdr,
                  coalesce(sum(e.u) FILTER (WHERE e.l = 'settled' AND e.d = 'credit'), 0) AS scr,
                  coalesce(sum(e.u) FILTER (WHERE e.l = 'pending' AND e.d = 'debit'), 0) AS pdr,
                  coalesce(sum(e.u) FILTER (WHERE e.l = 'pending' AND e.d = 'credit'), 0) AS pcr,
                  coalesce(sum(e.u) FILTER (WHERE e.l = 'encumbrance' AND e.d = 'debit'), 0) AS edr,
                  coalesce(sum(e.u) FILTER (WHERE e.l = 'encumbrance' AND e.d = 'credit'), 0) AS ecr
                FROM unnest(p_accounts, p_currencies, p_units, p_directions, p_layers) AS e(a, c, u, d, l)
                GROUP BY e.a, e.c ORDER BY 1, 2
            LOOP
                UPDATE ledger_current_balances cb SET
                    settled_dr = cb.settled_dr + k.sdr, settled_cr = cb.settled_cr + k.scr,
                    pending_dr = cb.pending_dr + k.pdr, pending_cr = cb.pending_cr + k.pcr,
                    encumbrance_dr = cb.encumbrance_dr + k.edr, encumbrance_cr = cb.encumbrance_cr + k.ecr,
                    version = cb.version + 1, modified_at = v_ts
                 WHERE cb.account_id = k.a AND cb.currency = k.c
                RETURNING cb.* INTO b;
                INSERT INTO ledger_balance_history (account_id, currency, version, transaction_id, recorded_at,
                       settled_dr, settled_cr, pending_dr, pending_cr, encumbrance_dr, encumbrance_cr)
                VALUES (k.a, k.c, b.version, p_tx_id, v_ts, b.settled_dr, b.settled_cr, b.pending_dr,
                        b.pending_cr, b.encumbrance_dr, b.encumbrance_cr);
                SELECT CASE a.min_zero
                         WHEN 'settled' THEN b.settled_dr - b.settled_cr
                         ELSE b.settled_dr - b.settled_cr + b.pending_dr - b.pending_cr
                              + b.encumbrance_dr - b.encumbrance_cr END
                       * CASE a.normal_balance_type WHEN 'debit' THEN 1 ELSE -1 END,
                       a.min_zero
                  INTO v_bal, v_status
                  FROM ledger_accounts a WHERE a.id = k.a AND a.min_zero IS NOT NULL;
                IF v_bal < 0 THEN
                    RAISE EXCEPTION USING ERRCODE = 'LG006',
                        MESSAGE = format('%s/%s/%s/%s', k.a, k.c, v_status, -v_bal);
                END IF;
                v_bal := NULL;
            END LOOP;

            tx_id := p_tx_id; recorded_at := v_ts; replayed := false; effective := p_effective;
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
