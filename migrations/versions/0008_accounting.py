"""Accounting: chart of accounts, base/module configs, fiscal years, manual transactions, period lock.

Revision ID: 0008_accounting

The period controls live in ``ledger_post`` itself: the journal row (one more indexed single-row
read, after the transaction row is inserted) carries ``closed_through`` (last day of the last closed
month) and ``open_until`` (end of the latest opened fiscal year). A month close takes SHARE on
``ledger_transactions`` for its few milliseconds, so no in-flight posting can slip into the month. NULL = no control (before the first fiscal
year is opened every date is accepted, so modules that do not use accounting keep working).
SQLSTATEs: LG008 period closed, LG009 after the latest open fiscal year.
"""

from migrations.sql import run_script

revision = "0008_accounting"
down_revision = "0001_foundation"
branch_labels = None
depends_on = ("0002_ledger",)

_POST_WITH_PERIODS = r"""
        CREATE OR REPLACE FUNCTION ledger_post(
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
            v_closed DATE;
            v_open_until DATE;
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
                    p_description, coalesce(p_metadata, '{}'::jsonb), v_ts)
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

            -- Period controls (accounting): no posting on or before the last closed day, except the
            -- year-end closing transaction; none after the end of the latest opened fiscal year.
            -- Read AFTER inserting the transaction row: a month close takes SHARE on
            -- ledger_transactions, so it waits for postings already past this insert (they committed
            -- under the old limits) and later postings see its committed limits here.
            SELECT j.closed_through, j.open_until INTO v_closed, v_open_until
              FROM ledger_journals j WHERE j.id = p_journal_id;
            IF p_effective <= v_closed
               AND coalesce(p_metadata->>'is_closing_tx', 'false') <> 'true' THEN
                RAISE EXCEPTION USING ERRCODE = 'LG008', MESSAGE = format('%s/%s', p_effective, v_closed);
            END IF;
            IF p_effective > v_open_until THEN
                RAISE EXCEPTION USING ERRCODE = 'LG009', MESSAGE = format('%s/%s', p_effective, v_open_until);
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

_POST_ORIGINAL = r"""
        CREATE OR REPLACE FUNCTION ledger_post(
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
                    p_description, coalesce(p_metadata, '{}'::jsonb), v_ts)
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


def upgrade() -> None:
    run_script(
        """
        ALTER TABLE ledger_journals ADD COLUMN closed_through DATE, ADD COLUMN open_until DATE;

        CREATE TABLE accounting_charts (
            id             UUID PRIMARY KEY,
            reference      TEXT NOT NULL UNIQUE,
            name           TEXT NOT NULL,
            account_set_id UUID NOT NULL,
            base_config    JSONB,
            created_at     TIMESTAMPTZ NOT NULL DEFAULT now()
        );

        CREATE TABLE accounting_chart_nodes (
            chart_id           UUID NOT NULL REFERENCES accounting_charts (id),
            code               TEXT NOT NULL,
            sections           TEXT[] NOT NULL,
            name               TEXT NOT NULL,
            parent_code        TEXT,
            normal_balance     TEXT NOT NULL CHECK (normal_balance IN ('debit', 'credit')),
            account_set_id     UUID NOT NULL UNIQUE,
            manual_account_id  UUID,
            created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
            PRIMARY KEY (chart_id, code)
        );

        -- Module configs as set through the API (once), and the placement rules derived from them.
        CREATE TABLE accounting_module_configs (
            module     TEXT PRIMARY KEY,
            config     JSONB NOT NULL,
            created_at TIMESTAMPTZ NOT NULL DEFAULT now()
        );
        CREATE TABLE accounting_placement_rules (
            key_pattern TEXT PRIMARY KEY,   -- product-set key, or a LIKE pattern (longest match wins)
            code        TEXT NOT NULL,
            module      TEXT NOT NULL
        );

        CREATE TABLE accounting_fiscal_years (
            id              UUID PRIMARY KEY,
            year            INTEGER NOT NULL UNIQUE,
            reference       TEXT NOT NULL,
            opened_as_of    DATE NOT NULL,
            closes_as_of    DATE NOT NULL,
            month_closures  JSONB NOT NULL DEFAULT '[]'::jsonb,
            last_closed_month DATE,
            closed_as_of    DATE,
            closed_at       TIMESTAMPTZ,
            closing_tx_id   UUID,
            created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
        );

        CREATE TABLE accounting_manual_transactions (
            id                    UUID PRIMARY KEY,
            reference             TEXT NOT NULL UNIQUE,
            description           TEXT NOT NULL,
            effective             DATE NOT NULL,
            ledger_transaction_id UUID NOT NULL,
            created_by            TEXT NOT NULL,
            created_at            TIMESTAMPTZ NOT NULL DEFAULT now()
        );
        """
        + _POST_WITH_PERIODS
    )


def downgrade() -> None:
    run_script(
        _POST_ORIGINAL
        + """
        DROP TABLE accounting_manual_transactions, accounting_fiscal_years, accounting_placement_rules,
                   accounting_module_configs, accounting_chart_nodes, accounting_charts;
        ALTER TABLE ledger_journals DROP COLUMN closed_through, DROP COLUMN open_until;
        """
    )
