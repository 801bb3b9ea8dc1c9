"""Leaner ledger_post: one journal read (status + period limits) after the transaction insert, and
the balance-control lookup folded into the balance UPDATE (two fewer statements per posting).

Revision ID: 0011_ledger_post_lean
"""

from migrations.sql import definition_from, run_script

revision = "0011_ledger_post_lean"
down_revision = "0008_accounting"
branch_labels = None
depends_on = None

_LEAN = r"""
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
            SELECT j.status, j.closed_through, j.open_until INTO v_status, v_closed, v_open_until
              FROM ledger_journals j WHERE j.id = p_journal_id;
            IF v_status IS DISTINCT FROM 'active' THEN
                RAISE EXCEPTION USING ERRCODE = 'LG005', MESSAGE = p_journal_id::text;
            END IF;
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
                  FROM ledger_accounts a
                 WHERE cb.account_id = k.a AND cb.currency = k.c AND a.id = cb.account_id
                RETURNING cb.version, cb.settled_dr, cb.settled_cr, cb.pending_dr, cb.pending_cr,
                          cb.encumbrance_dr, cb.encumbrance_cr, a.min_zero, a.normal_balance_type INTO b;
                INSERT INTO ledger_balance_history (account_id, currency, version, transaction_id, recorded_at,
                       settled_dr, settled_cr, pending_dr, pending_cr, encumbrance_dr, encumbrance_cr)
                VALUES (k.a, k.c, b.version, p_tx_id, v_ts, b.settled_dr, b.settled_cr, b.pending_dr,
                        b.pending_cr, b.encumbrance_dr, b.encumbrance_cr);
                IF b.min_zero IS NOT NULL THEN
                    v_status := b.min_zero;
                    v_bal := CASE b.min_zero
                               WHEN 'settled' THEN b.settled_dr - b.settled_cr
                               ELSE b.settled_dr - b.settled_cr + b.pending_dr - b.pending_cr
                                    + b.encumbrance_dr - b.encumbrance_cr END
                             * CASE b.normal_balance_type WHEN 'debit' THEN 1 ELSE -1 END;
                END IF;
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
    run_script(_LEAN)


def downgrade() -> None:
    run_script(definition_from("0008_accounting.py", "_POST_WITH_PERIODS"))
