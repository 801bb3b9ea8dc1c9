"""Ledger throughput: striped balance rows for control-free accounts, a leaner ``ledger_post``, and
``ledger_post_batch`` (many transactions in one call, each refused or posted on its own).

Revision ID: 0040_ledger_stripes

Striped balances (docs/ledger.md, "Hot accounts"). ``ledger_current_balances`` and
``ledger_balance_history`` gain ``stripe`` (primary key ``(account_id, currency, stripe)``). An
account with a balance control (``min_zero`` set) has exactly one row per currency, stripe 0,
locked by every posting as before. A control-free account may have up to 16: a posting takes any
stripe nobody holds (``FOR UPDATE SKIP LOCKED``, which never waits), adds the next stripe when all
are held (``ledger_claim_stripe``), and waits on one only at the cap. Uncontended accounts keep one
row; hot ones grow to the concurrency they see. Balance = sum of the stripes; each stripe keeps its
own history, so an as-of read is the sum, over stripes, of each stripe's last history row at or
before the instant. Each stripe numbers its versions in its own range (stripe s counts from
s * 10^12), so ``(account_id, currency, version)`` stays unique in the history; a reader's version
is the number of updates, sum of (version - stripe * 10^12).

The CHECK constraints on ``ledger_entries`` and ``ledger_current_balances`` (currency, direction,
layer, units > 0) are replaced by one array test in the posting functions, their only writers:
PostgreSQL re-reads and compiles every CHECK expression of a table for each statement that writes it
(about a tenth of a posting's server CPU, measured). Bad values are refused with LG007.

``ledger_post`` keeps its signature and one-round-trip contract. Changes: the per-key row lock is
the balance UPDATE itself (one statement per (account, currency) instead of two); an advisory lock
on the idempotency key serialises concurrent twins, so the replay probe at the top is exact; the
balance-per-(currency, layer) check is plain arithmetic in the key loop; history rows are appended
with one statement.
"""

from migrations.sql import definition_from, run_script

revision = "0040_ledger_stripes"
down_revision = "0011_ledger_post_lean"
branch_labels = None
depends_on = None

STRIPE_CAP = 16
STRIPE_BASE = 10**12  # stripe s numbers its versions s * 10^12 + 1, + 2, ...

_SCHEMA = """
        ALTER TABLE ledger_current_balances ADD COLUMN stripe SMALLINT NOT NULL DEFAULT 0;
        ALTER TABLE ledger_current_balances DROP CONSTRAINT ledger_current_balances_pkey,
            ADD PRIMARY KEY (account_id, currency, stripe),
            DROP CONSTRAINT ledger_current_balances_currency_check;
        ALTER TABLE ledger_balance_history ADD COLUMN stripe SMALLINT NOT NULL DEFAULT 0;
        DROP INDEX ix_ledger_balance_history_asof;
        -- As-of reads: per stripe, the last row at or before an instant (ties within one batch call,
        -- which shares one instant, broken by the version).
        CREATE INDEX ix_ledger_balance_history_asof
            ON ledger_balance_history (account_id, currency, stripe, recorded_at, version);
        ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_currency_check,
            DROP CONSTRAINT ledger_entries_units_check, DROP CONSTRAINT ledger_entries_direction_check,
            DROP CONSTRAINT ledger_entries_layer_check;

        -- A control is checked on stripe 0 alone, so an account may gain one only while it has a
        -- single stripe per currency.
        CREATE FUNCTION ledger_accounts_min_zero_fixed() RETURNS trigger LANGUAGE plpgsql AS $fn$
        BEGIN
            IF NEW.min_zero IS NOT NULL AND OLD.min_zero IS NULL AND EXISTS (
                   SELECT 1 FROM ledger_current_balances cb WHERE cb.account_id = NEW.id AND cb.stripe > 0) THEN
                RAISE EXCEPTION USING ERRCODE = 'LG010',
                    MESSAGE = format('account %s has striped balances; it cannot gain a balance control', NEW.id);
            END IF;
            RETURN NEW;
        END $fn$;
        CREATE TRIGGER ledger_accounts_min_zero_fixed BEFORE UPDATE OF min_zero ON ledger_accounts
            FOR EACH ROW EXECUTE FUNCTION ledger_accounts_min_zero_fixed();
"""

# Called only when no stripe of (account, currency) is free: waits for stripe 0 of a controlled
# account; adds a stripe to a control-free one, or waits for one at the cap. Returns the stripe now
# locked by the caller, or NULL when the account has no balance row in that currency (unknown).
# Deadlock-free: the caller holds only rows of smaller (account, currency) keys, and every wait
# here (on a stripe, or on a concurrent inserter of the same new stripe) is for this key.
_CLAIM = f"""
        CREATE FUNCTION ledger_claim_stripe(p_account UUID, p_currency TEXT) RETURNS SMALLINT
        LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $fn$
        DECLARE
            v_min_zero TEXT;
            v_n INTEGER;
            v_s SMALLINT;
        BEGIN
            SELECT a.min_zero INTO v_min_zero FROM ledger_accounts a WHERE a.id = p_account;
            IF NOT FOUND THEN
                RETURN NULL;
            END IF;
            IF v_min_zero IS NOT NULL THEN  -- a controlled account: its one stripe, waiting for it
                PERFORM 1 FROM ledger_current_balances s
                  WHERE s.account_id = p_account AND s.currency = p_currency AND s.stripe = 0 FOR UPDATE;
                RETURN CASE WHEN FOUND THEN 0 END;
            END IF;
            FOR attempt IN 0..{STRIPE_CAP} LOOP
                SELECT s.stripe INTO v_s FROM ledger_current_balances s
                 WHERE s.account_id = p_account AND s.currency = p_currency
                 ORDER BY s.stripe LIMIT 1 FOR UPDATE SKIP LOCKED;
                IF FOUND THEN
                    RETURN v_s;
                END IF;
                SELECT count(*) INTO v_n FROM ledger_current_balances s
                 WHERE s.account_id = p_account AND s.currency = p_currency;
                IF v_n = 0 OR v_n >= {STRIPE_CAP} THEN
                    EXIT;
                END IF;
                -- All held: add stripe n (waits only if a concurrent poster is adding the same one;
                -- once it commits, the next pass finds it or adds n + 1).
                INSERT INTO ledger_current_balances (account_id, currency, stripe, version)
                VALUES (p_account, p_currency, v_n, v_n::bigint * {STRIPE_BASE})
                ON CONFLICT DO NOTHING RETURNING stripe INTO v_s;
                IF FOUND THEN
                    RETURN v_s;
                END IF;
            END LOOP;
            IF v_n = 0 THEN
                RETURN NULL;
            END IF;
            -- At the cap: wait for a stripe.
            v_s := floor(random() * v_n)::smallint;
            PERFORM 1 FROM ledger_current_balances s
              WHERE s.account_id = p_account AND s.currency = p_currency AND s.stripe = v_s FOR UPDATE;
            RETURN v_s;
        END $fn$;
"""

_POST = r"""
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
            k RECORD;
            b RECORD;
            v_s SMALLINT;
            v_bal BIGINT;
            v_ts TIMESTAMPTZ;
            v_status TEXT;
            v_closed DATE;
            v_open_until DATE;
            -- net debits - credits per (currency, layer): must all end at zero
            v_us BIGINT := 0; v_up BIGINT := 0; v_ue BIGINT := 0;
            v_bs BIGINT := 0; v_bp BIGINT := 0; v_be BIGINT := 0;
            h_a UUID[] := '{}'; h_c TEXT[] := '{}'; h_s SMALLINT[] := '{}';
        BEGIN
            -- 1. Replay? Concurrent twins (same key) queue on this lock, so the probe is exact.
            IF pg_advisory_xact_lock(hashtextextended(p_idempotency_key, 0)) IS NULL THEN NULL; END IF;
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

            -- 2. Shape and values (the table CHECKs live here: this function is the only writer).
            IF v_n IS NULL OR v_n < 2 OR cardinality(p_currencies) IS DISTINCT FROM v_n
               OR cardinality(p_units) IS DISTINCT FROM v_n OR cardinality(p_directions) IS DISTINCT FROM v_n
               OR cardinality(p_layers) IS DISTINCT FROM v_n OR cardinality(p_entry_types) IS DISTINCT FROM v_n
               OR array_position(p_accounts, NULL) IS NOT NULL
               OR NOT coalesce(p_currencies <@ '{USD,BTC}'::text[] AND p_directions <@ '{debit,credit}'::text[]
                               AND p_layers <@ '{settled,pending,encumbrance}'::text[] AND 0 < ALL (p_units), false)
            THEN
                RAISE EXCEPTION USING ERRCODE = 'LG007', MESSAGE = 'entries arrays malformed';
            END IF;

            -- 3. Per (account, currency), in canonical order (every poster takes its locks in the
            --    same global order, so posters never deadlock): add the net delta to a stripe.
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
                -- A stripe nobody holds (a controlled account has only stripe 0); never waits. The
                -- UPDATE is the lock: no separate SELECT ... FOR UPDATE.
                UPDATE ledger_current_balances cb SET
                    settled_dr = cb.settled_dr + k.sdr, settled_cr = cb.settled_cr + k.scr,
                    pending_dr = cb.pending_dr + k.pdr, pending_cr = cb.pending_cr + k.pcr,
                    encumbrance_dr = cb.encumbrance_dr + k.edr, encumbrance_cr = cb.encumbrance_cr + k.ecr,
                    version = cb.version + 1, modified_at = clock_timestamp()
                  FROM ledger_accounts a
                 WHERE cb.account_id = k.a AND cb.currency = k.c AND a.id = k.a
                   AND cb.stripe = (SELECT s.stripe FROM ledger_current_balances s
                                     WHERE s.account_id = k.a AND s.currency = k.c
                                     ORDER BY s.stripe LIMIT 1 FOR UPDATE SKIP LOCKED)
                RETURNING cb.stripe, cb.settled_dr, cb.settled_cr, cb.pending_dr, cb.pending_cr,
                          cb.encumbrance_dr, cb.encumbrance_cr, a.status, a.min_zero, a.normal_balance_type
                     INTO b;
                IF NOT FOUND THEN
                    -- Every stripe is held: add one, or wait (controlled accounts, the cap).
                    v_s := ledger_claim_stripe(k.a, k.c);
                    IF v_s IS NULL THEN
                        RAISE EXCEPTION USING ERRCODE = 'LG004', MESSAGE = k.a::text;
                    END IF;
                    UPDATE ledger_current_balances cb SET
                        settled_dr = cb.settled_dr + k.sdr, settled_cr = cb.settled_cr + k.scr,
                        pending_dr = cb.pending_dr + k.pdr, pending_cr = cb.pending_cr + k.pcr,
                        encumbrance_dr = cb.encumbrance_dr + k.edr, encumbrance_cr = cb.encumbrance_cr + k.ecr,
                        version = cb.version + 1, modified_at = clock_timestamp()
                      FROM ledger_accounts a
                     WHERE cb.account_id = k.a AND cb.currency = k.c AND cb.stripe = v_s AND a.id = k.a
                    RETURNING cb.stripe, cb.settled_dr, cb.settled_cr, cb.pending_dr, cb.pending_cr,
                              cb.encumbrance_dr, cb.encumbrance_cr, a.status, a.min_zero, a.normal_balance_type
                         INTO b;
                END IF;
                IF b.status IS DISTINCT FROM 'active' THEN
                    RAISE EXCEPTION USING ERRCODE = 'LG004', MESSAGE = k.a::text;
                END IF;
                IF b.min_zero IS NOT NULL THEN  -- controlled: one stripe, so b is the whole balance
                    v_bal := CASE b.min_zero
                               WHEN 'settled' THEN b.settled_dr - b.settled_cr
                               ELSE b.settled_dr - b.settled_cr + b.pending_dr - b.pending_cr
                                    + b.encumbrance_dr - b.encumbrance_cr END
                             * CASE b.normal_balance_type WHEN 'debit' THEN 1 ELSE -1 END;
                    IF v_bal < 0 THEN
                        RAISE EXCEPTION USING ERRCODE = 'LG006',
                            MESSAGE = format('%s/%s/%s/%s', k.a, k.c, b.min_zero, -v_bal);
                    END IF;
                END IF;
                IF k.c = 'USD' THEN
                    v_us := v_us + k.sdr - k.scr; v_up := v_up + k.pdr - k.pcr; v_ue := v_ue + k.edr - k.ecr;
                ELSE
                    v_bs := v_bs + k.sdr - k.scr; v_bp := v_bp + k.pdr - k.pcr; v_be := v_be + k.edr - k.ecr;
                END IF;
                h_a := h_a || k.a; h_c := h_c || k.c; h_s := h_s || b.stripe;
            END LOOP;
            IF v_us <> 0 OR v_up <> 0 OR v_ue <> 0 OR v_bs <> 0 OR v_bp <> 0 OR v_be <> 0 THEN
                RAISE EXCEPTION USING ERRCODE = 'LG003', MESSAGE = CASE
                    WHEN v_us <> 0 THEN 'USD/settled/' || v_us WHEN v_up <> 0 THEN 'USD/pending/' || v_up
                    WHEN v_ue <> 0 THEN 'USD/encumbrance/' || v_ue WHEN v_bs <> 0 THEN 'BTC/settled/' || v_bs
                    WHEN v_bp <> 0 THEN 'BTC/pending/' || v_bp ELSE 'BTC/encumbrance/' || v_be END;
            END IF;

            -- 4. One timestamp, taken under all the locks: monotonic per stripe.
            v_ts := clock_timestamp();
            INSERT INTO ledger_transactions (id, journal_id, template_code, template_version, idempotency_key,
                   request_hash, external_id, correlation_id, effective, description, metadata, recorded_at)
            VALUES (p_tx_id, p_journal_id, p_template_code, p_template_version, p_idempotency_key,
                    p_request_hash, p_external_id, coalesce(p_correlation_id, p_tx_id::text), p_effective,
                    p_description, coalesce(p_metadata, '{}'::jsonb), v_ts)
            ON CONFLICT DO NOTHING;
            IF NOT FOUND THEN  -- the key is ours (advisory lock): the id or external id is taken
                RAISE EXCEPTION USING ERRCODE = 'LG002', MESSAGE = p_tx_id::text;
            END IF;

            -- Period controls (accounting): read AFTER inserting the transaction row: a month close
            -- takes SHARE on ledger_transactions, so it waits for postings already past this insert
            -- (they committed under the old limits) and later postings see its committed limits here.
            SELECT j.status, j.closed_through, j.open_until INTO v_status, v_closed, v_open_until
              FROM ledger_journals j WHERE j.id = p_journal_id;
            IF v_status IS DISTINCT FROM 'active' THEN
                RAISE EXCEPTION USING ERRCODE = 'LG005', MESSAGE = p_journal_id::text;
            END IF;
            IF p_effective <= v_closed AND coalesce(p_metadata->>'is_closing_tx', 'false') <> 'true' THEN
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
            INSERT INTO ledger_balance_history (account_id, currency, stripe, version, transaction_id, recorded_at,
                   settled_dr, settled_cr, pending_dr, pending_cr, encumbrance_dr, encumbrance_cr)
            SELECT cb.account_id, cb.currency, cb.stripe, cb.version, p_tx_id, v_ts, cb.settled_dr, cb.settled_cr,
                   cb.pending_dr, cb.pending_cr, cb.encumbrance_dr, cb.encumbrance_cr
              FROM unnest(h_a, h_c, h_s) AS h(a, c, s)
              JOIN ledger_current_balances cb ON cb.account_id = h.a AND cb.currency = h.c AND cb.stripe = h.s;

            tx_id := p_tx_id; recorded_at := v_ts; replayed := false; effective := p_effective;
        END $fn$;
"""

# Many transactions in one call (one round trip, one PostgreSQL transaction), each posted, replayed
# or refused on its own: a refusal is a row in the result, never an exception, so the others commit.
# Same checks and idempotency as ledger_post, evaluated in request order (a later request under the
# key of an earlier posted one replays it, or conflicts). Locks: advisory locks on every key (sorted),
# then every (account, currency) of the call once, in canonical order, before anything is written;
# the balance state is then carried in arrays and written once per stripe. All transactions of the
# call share one recorded_at (ties in the history are ordered by version).
_BATCH = r"""
        CREATE FUNCTION ledger_post_batch(
            p_journal_id UUID, p_tx_ids UUID[], p_template_codes TEXT[], p_template_versions INTEGER[],
            p_keys TEXT[], p_hashes TEXT[], p_external_ids TEXT[], p_correlation_ids TEXT[],
            p_effectives DATE[], p_descriptions TEXT[], p_metadata JSONB[],
            p_entry_tx INTEGER[], p_accounts UUID[], p_currencies TEXT[], p_units BIGINT[],
            p_directions TEXT[], p_layers TEXT[], p_entry_types TEXT[]
        ) RETURNS TABLE (r_idx INTEGER, r_tx_id UUID, r_recorded_at TIMESTAMPTZ, r_replayed BOOLEAN,
                         r_effective DATE, r_code TEXT, r_message TEXT)
        LANGUAGE plpgsql
        SET plan_cache_mode = force_generic_plan
        AS $fn$
        DECLARE
            n INTEGER := coalesce(cardinality(p_tx_ids), 0);
            m INTEGER := coalesce(cardinality(p_entry_tx), 0);
            -- per request: NULL = still to decide, 'OK' posted, 'RP' replay, or an LGxxx refusal
            v_code TEXT[]; v_msg TEXT[];
            v_id UUID[]; v_ts_of TIMESTAMPTZ[]; v_eff DATE[];       -- what the result row reports
            v_prev_key INTEGER[]; v_prev_id INTEGER[]; v_prev_ext INTEGER[];  -- earlier request, same key/id/ext
            -- per (account, currency) of the call, canonical order: the stripe locked and its state
            k_a UUID[] := '{}'; k_c TEXT[] := '{}'; k_s SMALLINT[] := '{}'; k_v BIGINT[] := '{}';
            k_sdr BIGINT[] := '{}'; k_scr BIGINT[] := '{}'; k_pdr BIGINT[] := '{}'; k_pcr BIGINT[] := '{}';
            k_edr BIGINT[] := '{}'; k_ecr BIGINT[] := '{}'; k_status TEXT[] := '{}'; k_min TEXT[] := '{}';
            k_side TEXT[] := '{}'; k_dirty BOOLEAN[] := '{}';
            nk INTEGER := 0;
            -- history rows to append
            h_k INTEGER[] := '{}'; h_v BIGINT[] := '{}'; h_tx UUID[] := '{}';
            h_sdr BIGINT[] := '{}'; h_scr BIGINT[] := '{}'; h_pdr BIGINT[] := '{}'; h_pcr BIGINT[] := '{}';
            h_edr BIGINT[] := '{}'; h_ecr BIGINT[] := '{}';
            nh INTEGER := 0;
            -- the rows of the request being decided (one per key it touches)
            b_k INTEGER[]; b_d BIGINT[]; nb INTEGER := 0; cur INTEGER := 0;
            r RECORD; x RECORD;
            v_s SMALLINT; v_bal BIGINT; j INTEGER; i INTEGER; kk INTEGER; v_ok INTEGER := 0; v_cnt INTEGER;
            v_ts TIMESTAMPTZ;
            v_jstatus TEXT; v_closed DATE; v_open_until DATE;
        BEGIN
            IF n = 0 THEN
                RETURN;
            END IF;
            IF cardinality(p_template_codes) IS DISTINCT FROM n OR cardinality(p_template_versions) IS DISTINCT FROM n
               OR cardinality(p_keys) IS DISTINCT FROM n OR cardinality(p_hashes) IS DISTINCT FROM n
               OR cardinality(p_external_ids) IS DISTINCT FROM n OR cardinality(p_correlation_ids) IS DISTINCT FROM n
               OR cardinality(p_effectives) IS DISTINCT FROM n OR cardinality(p_descriptions) IS DISTINCT FROM n
               OR cardinality(p_metadata) IS DISTINCT FROM n
               OR array_position(p_tx_ids, NULL) IS NOT NULL OR array_position(p_keys, NULL) IS NOT NULL
               OR array_position(p_hashes, NULL) IS NOT NULL OR array_position(p_effectives, NULL) IS NOT NULL
               OR cardinality(p_accounts) IS DISTINCT FROM m OR cardinality(p_currencies) IS DISTINCT FROM m
               OR cardinality(p_units) IS DISTINCT FROM m OR cardinality(p_directions) IS DISTINCT FROM m
               OR cardinality(p_layers) IS DISTINCT FROM m OR cardinality(p_entry_types) IS DISTINCT FROM m
               OR (m > 0 AND NOT coalesce(1 <= ALL (p_entry_tx) AND n >= ALL (p_entry_tx), false)) THEN
                RAISE EXCEPTION USING ERRCODE = 'LG007', MESSAGE = 'batch arrays malformed';
            END IF;
            v_code := array_fill(NULL::text, ARRAY[n]); v_msg := v_code;
            v_id := array_fill(NULL::uuid, ARRAY[n]); v_ts_of := array_fill(NULL::timestamptz, ARRAY[n]);
            v_eff := array_fill(NULL::date, ARRAY[n]);
            v_prev_key := array_fill(NULL::integer, ARRAY[n]); v_prev_id := v_prev_key; v_prev_ext := v_prev_key;

            -- 1. Same-key posters (single or batch) queue here; sorted, so two batches never deadlock.
            PERFORM pg_advisory_xact_lock(ak.h) FROM (SELECT DISTINCT hashtextextended(uk.k, 0) AS h
                                                         FROM unnest(p_keys) uk(k) ORDER BY 1) ak;
            -- Period controls: a month close takes SHARE on ledger_transactions; taking ROW EXCLUSIVE
            -- now (as ledger_post's insert does) orders this call before or after it, and the journal
            -- read below, a later statement, sees the limits of a close that came first.
            LOCK TABLE ledger_transactions IN ROW EXCLUSIVE MODE;
            SELECT jr.status, jr.closed_through, jr.open_until INTO v_jstatus, v_closed, v_open_until
              FROM ledger_journals jr WHERE jr.id = p_journal_id;

            -- 2. Everything decidable per request alone: replay / conflict with a committed
            --    transaction, entries, balance per (currency, layer), journal, period, taken ids.
            FOR r IN
                WITH q AS (
                    SELECT * FROM unnest(p_keys, p_hashes, p_tx_ids, p_external_ids, p_effectives, p_metadata)
                           WITH ORDINALITY AS q(k, h, id, ext, eff, meta, i)
                ), e AS (
                    SELECT * FROM unnest(p_entry_tx, p_accounts, p_currencies, p_units, p_directions, p_layers)
                           AS e(tx, a, c, u, d, l)
                ), ev AS (
                    SELECT e.tx, count(*) AS cnt,
                           bool_and(e.a IS NOT NULL AND e.c IN ('USD', 'BTC') AND e.d IN ('debit', 'credit')
                                    AND e.l IN ('settled', 'pending', 'encumbrance') AND e.u > 0) AS ok
                      FROM e GROUP BY e.tx
                ), eb AS (
                    SELECT DISTINCT ON (y.tx) y.tx, y.c || '/' || y.l || '/' || y.s AS msg
                      FROM (SELECT e.tx, e.c, e.l, sum(CASE e.d WHEN 'debit' THEN e.u ELSE -e.u END) AS s
                              FROM e GROUP BY e.tx, e.c, e.l) y
                     WHERE y.s <> 0 ORDER BY y.tx, y.c, y.l
                )
                SELECT q.i, q.h, q.id, q.ext, q.eff, q.meta, t.id AS t_id, t.request_hash AS t_hash,
                       t.recorded_at AS t_ts, t.effective AS t_eff, ev.cnt, ev.ok, eb.msg AS unbalanced,
                       EXISTS (SELECT 1 FROM ledger_transactions tt WHERE tt.id = q.id) AS id_taken,
                       q.ext IS NOT NULL AND EXISTS (SELECT 1 FROM ledger_transactions tt
                                                      WHERE tt.external_id = q.ext) AS ext_taken,
                       lag(q.i) OVER (PARTITION BY q.k ORDER BY q.i) AS prev_key,
                       lag(q.i) OVER (PARTITION BY q.id ORDER BY q.i) AS prev_id,
                       CASE WHEN q.ext IS NOT NULL THEN lag(q.i) OVER (PARTITION BY q.ext ORDER BY q.i) END AS prev_ext
                  FROM q
                  LEFT JOIN ledger_transactions t ON t.idempotency_key = q.k
                  LEFT JOIN ev ON ev.tx = q.i
                  LEFT JOIN eb ON eb.tx = q.i
            LOOP
                i := r.i;
                v_prev_key[i] := r.prev_key; v_prev_id[i] := r.prev_id; v_prev_ext[i] := r.prev_ext;
                IF r.t_id IS NOT NULL THEN
                    IF r.t_hash = r.h THEN
                        v_code[i] := 'RP'; v_id[i] := r.t_id; v_ts_of[i] := r.t_ts; v_eff[i] := r.t_eff;
                    ELSE
                        v_code[i] := 'LG001'; v_msg[i] := p_keys[i];
                    END IF;
                ELSIF coalesce(r.cnt, 0) < 2 OR NOT r.ok THEN
                    v_code[i] := 'LG007'; v_msg[i] := 'entries arrays malformed';
                ELSIF r.unbalanced IS NOT NULL THEN
                    v_code[i] := 'LG003'; v_msg[i] := r.unbalanced;
                ELSIF v_jstatus IS DISTINCT FROM 'active' THEN
                    v_code[i] := 'LG005'; v_msg[i] := p_journal_id::text;
                ELSIF r.eff <= v_closed AND coalesce(r.meta->>'is_closing_tx', 'false') <> 'true' THEN
                    v_code[i] := 'LG008'; v_msg[i] := format('%s/%s', r.eff, v_closed);
                ELSIF r.eff > v_open_until THEN
                    v_code[i] := 'LG009'; v_msg[i] := format('%s/%s', r.eff, v_open_until);
                ELSIF r.id_taken OR r.ext_taken THEN
                    v_code[i] := 'LG002'; v_msg[i] := r.id::text;
                END IF;
            END LOOP;

            -- 3. Lock one stripe of every (account, currency) still in play, in canonical order.
            FOR r IN
                SELECT e.a, e.c FROM unnest(p_entry_tx, p_accounts, p_currencies) AS e(tx, a, c)
                 WHERE v_code[e.tx] IS NULL GROUP BY e.a, e.c ORDER BY e.a, e.c
            LOOP
                SELECT s.stripe, s.version, s.settled_dr, s.settled_cr, s.pending_dr, s.pending_cr,
                       s.encumbrance_dr, s.encumbrance_cr, a.status, a.min_zero, a.normal_balance_type INTO x
                  FROM ledger_current_balances s JOIN ledger_accounts a ON a.id = s.account_id
                 WHERE s.account_id = r.a AND s.currency = r.c
                 ORDER BY s.stripe LIMIT 1 FOR UPDATE OF s SKIP LOCKED;
                IF NOT FOUND THEN
                    v_s := ledger_claim_stripe(r.a, r.c);
                    SELECT s.stripe, s.version, s.settled_dr, s.settled_cr, s.pending_dr, s.pending_cr,
                           s.encumbrance_dr, s.encumbrance_cr, a.status, a.min_zero, a.normal_balance_type INTO x
                      FROM ledger_current_balances s JOIN ledger_accounts a ON a.id = s.account_id
                     WHERE s.account_id = r.a AND s.currency = r.c AND s.stripe = v_s;
                END IF;
                nk := nk + 1;
                k_a[nk] := r.a; k_c[nk] := r.c; k_s[nk] := x.stripe; k_v[nk] := x.version;
                k_sdr[nk] := x.settled_dr; k_scr[nk] := x.settled_cr; k_pdr[nk] := x.pending_dr;
                k_pcr[nk] := x.pending_cr; k_edr[nk] := x.encumbrance_dr; k_ecr[nk] := x.encumbrance_cr;
                k_status[nk] := x.status; k_min[nk] := x.min_zero; k_side[nk] := x.normal_balance_type;
                k_dirty[nk] := false;
            END LOOP;
            v_ts := clock_timestamp();  -- under all the locks: monotonic per stripe

            -- 4. Decide the rest in request order, carrying the balances: the rows of one request
            --    (its net delta per key) are checked together, then applied together or not at all.
            --    A sentinel row (request n + 1) closes the last request.
            FOR r IN
                SELECT * FROM (
                    SELECT e.tx, (dense_rank() OVER (ORDER BY e.a, e.c))::integer AS kx,
                           ARRAY[coalesce(sum(e.u) FILTER (WHERE e.l = 'settled' AND e.d = 'debit'), 0),
                                 coalesce(sum(e.u) FILTER (WHERE e.l = 'settled' AND e.d = 'credit'), 0),
                                 coalesce(sum(e.u) FILTER (WHERE e.l = 'pending' AND e.d = 'debit'), 0),
                                 coalesce(sum(e.u) FILTER (WHERE e.l = 'pending' AND e.d = 'credit'), 0),
                                 coalesce(sum(e.u) FILTER (WHERE e.l = 'encumbrance' AND e.d = 'debit'), 0),
                                 coalesce(sum(e.u) FILTER (WHERE e.l = 'encumbrance' AND e.d = 'credit'), 0)]::bigint[] AS d
                      FROM unnest(p_entry_tx, p_accounts, p_currencies, p_units, p_directions, p_layers)
                           AS e(tx, a, c, u, d, l)
                     WHERE v_code[e.tx] IS NULL
                     GROUP BY e.tx, e.a, e.c
                    UNION ALL SELECT n + 1, 0, NULL) y
                 ORDER BY y.tx, y.kx
            LOOP
                IF r.tx <> cur AND nb > 0 THEN
                    -- decide request `cur` from its nb buffered rows
                    i := cur;
                    j := v_prev_key[i];  -- an earlier request under this key that was posted?
                    WHILE j IS NOT NULL AND v_code[j] IS DISTINCT FROM 'OK' LOOP j := v_prev_key[j]; END LOOP;
                    IF j IS NOT NULL THEN
                        IF p_hashes[j] = p_hashes[i] THEN
                            v_code[i] := 'RP'; v_id[i] := p_tx_ids[j]; v_ts_of[i] := v_ts; v_eff[i] := p_effectives[j];
                        ELSE
                            v_code[i] := 'LG001'; v_msg[i] := p_keys[i];
                        END IF;
                    END IF;
                    IF v_code[i] IS NULL THEN
                        j := v_prev_id[i];
                        WHILE j IS NOT NULL AND v_code[j] IS DISTINCT FROM 'OK' LOOP j := v_prev_id[j]; END LOOP;
                        IF j IS NULL THEN
                            j := v_prev_ext[i];
                            WHILE j IS NOT NULL AND v_code[j] IS DISTINCT FROM 'OK' LOOP j := v_prev_ext[j]; END LOOP;
                        END IF;
                        IF j IS NOT NULL THEN
                            v_code[i] := 'LG002'; v_msg[i] := p_tx_ids[i]::text;
                        END IF;
                    END IF;
                    IF v_code[i] IS NULL THEN
                        FOR w IN 1..nb LOOP
                            kk := b_k[w];
                            IF k_status[kk] IS DISTINCT FROM 'active' THEN
                                v_code[i] := 'LG004'; v_msg[i] := k_a[kk]::text;
                                EXIT;
                            END IF;
                            IF k_min[kk] IS NOT NULL THEN
                                v_bal := CASE k_min[kk]
                                           WHEN 'settled' THEN k_sdr[kk] + b_d[w * 6 - 5] - k_scr[kk] - b_d[w * 6 - 4]
                                           ELSE k_sdr[kk] + b_d[w * 6 - 5] - k_scr[kk] - b_d[w * 6 - 4]
                                                + k_pdr[kk] + b_d[w * 6 - 3] - k_pcr[kk] - b_d[w * 6 - 2]
                                                + k_edr[kk] + b_d[w * 6 - 1] - k_ecr[kk] - b_d[w * 6] END
                                         * CASE k_side[kk] WHEN 'debit' THEN 1 ELSE -1 END;
                                IF v_bal < 0 THEN
                                    v_code[i] := 'LG006';
                                    v_msg[i] := format('%s/%s/%s/%s', k_a[kk], k_c[kk], k_min[kk], -v_bal);
                                    EXIT;
                                END IF;
                            END IF;
                        END LOOP;
                    END IF;
                    IF v_code[i] IS NULL THEN
                        FOR w IN 1..nb LOOP
                            kk := b_k[w];
                            k_sdr[kk] := k_sdr[kk] + b_d[w * 6 - 5]; k_scr[kk] := k_scr[kk] + b_d[w * 6 - 4];
                            k_pdr[kk] := k_pdr[kk] + b_d[w * 6 - 3]; k_pcr[kk] := k_pcr[kk] + b_d[w * 6 - 2];
                            k_edr[kk] := k_edr[kk] + b_d[w * 6 - 1]; k_ecr[kk] := k_ecr[kk] + b_d[w * 6];
                            k_v[kk] := k_v[kk] + 1; k_dirty[kk] := true;
                            nh := nh + 1;
                            h_k[nh] := kk; h_v[nh] := k_v[kk]; h_tx[nh] := p_tx_ids[i];
                            h_sdr[nh] := k_sdr[kk]; h_scr[nh] := k_scr[kk]; h_pdr[nh] := k_pdr[kk];
                            h_pcr[nh] := k_pcr[kk]; h_edr[nh] := k_edr[kk]; h_ecr[nh] := k_ecr[kk];
                        END LOOP;
                        v_code[i] := 'OK'; v_id[i] := p_tx_ids[i]; v_ts_of[i] := v_ts; v_eff[i] := p_effectives[i];
                        v_ok := v_ok + 1;
                    END IF;
                    nb := 0;
                END IF;
                IF r.tx <= n THEN
                    cur := r.tx; nb := nb + 1;
                    b_k[nb] := r.kx; b_d[nb * 6 - 5:nb * 6] := r.d;
                END IF;
            END LOOP;

            -- 5. Write: each touched stripe once, then the posted transactions, entries and history.
            IF v_ok > 0 THEN
                UPDATE ledger_current_balances cb SET
                    settled_dr = u.sdr, settled_cr = u.scr, pending_dr = u.pdr, pending_cr = u.pcr,
                    encumbrance_dr = u.edr, encumbrance_cr = u.ecr, version = u.v, modified_at = v_ts
                  FROM unnest(k_a, k_c, k_s, k_v, k_sdr, k_scr, k_pdr, k_pcr, k_edr, k_ecr, k_dirty)
                       AS u(a, c, s, v, sdr, scr, pdr, pcr, edr, ecr, dirty)
                 WHERE u.dirty AND cb.account_id = u.a AND cb.currency = u.c AND cb.stripe = u.s;
                INSERT INTO ledger_transactions (id, journal_id, template_code, template_version, idempotency_key,
                       request_hash, external_id, correlation_id, effective, description, metadata, recorded_at)
                SELECT q.id, p_journal_id, q.code, q.ver, q.k, q.h, q.ext, coalesce(q.corr, q.id::text), q.eff,
                       q.descr, coalesce(q.meta, '{}'::jsonb), v_ts
                  FROM unnest(p_tx_ids, p_template_codes, p_template_versions, p_keys, p_hashes, p_external_ids,
                              p_correlation_ids, p_effectives, p_descriptions, p_metadata, v_code)
                       AS q(id, code, ver, k, h, ext, corr, eff, descr, meta, st)
                 WHERE q.st = 'OK'
                ON CONFLICT DO NOTHING;
                GET DIAGNOSTICS v_cnt = ROW_COUNT;
                IF v_cnt <> v_ok THEN  -- a transaction id or external id taken meanwhile (no key lock covers it)
                    RAISE EXCEPTION USING ERRCODE = 'LG002', MESSAGE = 'a transaction id of the batch';
                END IF;
                INSERT INTO ledger_entries (transaction_id, sequence, account_id, currency, units, direction,
                                            layer, entry_type, effective, recorded_at)
                SELECT p_tx_ids[e.tx], row_number() OVER (PARTITION BY e.tx ORDER BY e.o), e.a, e.c, e.u, e.d,
                       e.l, e.t, p_effectives[e.tx], v_ts
                  FROM unnest(p_entry_tx, p_accounts, p_currencies, p_units, p_directions, p_layers, p_entry_types)
                       WITH ORDINALITY AS e(tx, a, c, u, d, l, t, o)
                 WHERE v_code[e.tx] = 'OK';
                INSERT INTO ledger_balance_history (account_id, currency, stripe, version, transaction_id,
                       recorded_at, settled_dr, settled_cr, pending_dr, pending_cr, encumbrance_dr, encumbrance_cr)
                SELECT k_a[h.k], k_c[h.k], k_s[h.k], h.v, h.tx, v_ts, h.sdr, h.scr, h.pdr, h.pcr, h.edr, h.ecr
                  FROM unnest(h_k, h_v, h_tx, h_sdr, h_scr, h_pdr, h_pcr, h_edr, h_ecr)
                       AS h(k, v, tx, sdr, scr, pdr, pcr, edr, ecr);
            END IF;

            RETURN QUERY
                SELECT o.i::integer, o.id, o.ts, o.st = 'RP', o.eff,
                       CASE WHEN o.st LIKE 'LG%' THEN o.st END, o.msg
                  FROM unnest(v_code, v_msg, v_id, v_ts_of, v_eff) WITH ORDINALITY AS o(st, msg, id, ts, eff, i)
                 ORDER BY o.i;
        END $fn$;
"""


def upgrade() -> None:
    run_script(_SCHEMA + _CLAIM + _POST + _BATCH)


def downgrade() -> None:
    run_script(
        f"""
        DROP FUNCTION ledger_post_batch;
        DROP FUNCTION ledger_claim_stripe(UUID, TEXT);
        DROP TRIGGER ledger_accounts_min_zero_fixed ON ledger_accounts;
        DROP FUNCTION ledger_accounts_min_zero_fixed();

        -- History back to one cumulative row per posting and (account, currency): each stripe row's
        -- delta (against the stripe's previous row), summed in recording order.
        CREATE TEMP TABLE _h ON COMMIT DROP AS
        SELECT account_id, currency, transaction_id, recorded_at,
               row_number() OVER w AS version,
               sum(d_sdr) OVER w AS settled_dr, sum(d_scr) OVER w AS settled_cr,
               sum(d_pdr) OVER w AS pending_dr, sum(d_pcr) OVER w AS pending_cr,
               sum(d_edr) OVER w AS encumbrance_dr, sum(d_ecr) OVER w AS encumbrance_cr
          FROM (SELECT h.*,
                       h.settled_dr - coalesce(lag(h.settled_dr) OVER s, 0) AS d_sdr,
                       h.settled_cr - coalesce(lag(h.settled_cr) OVER s, 0) AS d_scr,
                       h.pending_dr - coalesce(lag(h.pending_dr) OVER s, 0) AS d_pdr,
                       h.pending_cr - coalesce(lag(h.pending_cr) OVER s, 0) AS d_pcr,
                       h.encumbrance_dr - coalesce(lag(h.encumbrance_dr) OVER s, 0) AS d_edr,
                       h.encumbrance_cr - coalesce(lag(h.encumbrance_cr) OVER s, 0) AS d_ecr
                  FROM ledger_balance_history h
                WINDOW s AS (PARTITION BY h.account_id, h.currency, h.stripe ORDER BY h.version)) x
        WINDOW w AS (PARTITION BY account_id, currency ORDER BY recorded_at, stripe, version);
        TRUNCATE ledger_balance_history;
        DROP INDEX ix_ledger_balance_history_asof;
        ALTER TABLE ledger_balance_history DROP COLUMN stripe;
        INSERT INTO ledger_balance_history (account_id, currency, version, transaction_id, recorded_at,
               settled_dr, settled_cr, pending_dr, pending_cr, encumbrance_dr, encumbrance_cr)
        SELECT account_id, currency, version, transaction_id, recorded_at, settled_dr, settled_cr,
               pending_dr, pending_cr, encumbrance_dr, encumbrance_cr FROM _h;
        CREATE INDEX ix_ledger_balance_history_asof
            ON ledger_balance_history (account_id, currency, recorded_at);

        -- Fold the stripes into stripe 0.
        UPDATE ledger_current_balances cb SET
            settled_dr = t.sdr, settled_cr = t.scr, pending_dr = t.pdr, pending_cr = t.pcr,
            encumbrance_dr = t.edr, encumbrance_cr = t.ecr, version = t.v, modified_at = t.m
          FROM (SELECT account_id, currency, sum(settled_dr) sdr, sum(settled_cr) scr, sum(pending_dr) pdr,
                       sum(pending_cr) pcr, sum(encumbrance_dr) edr, sum(encumbrance_cr) ecr,
                       sum(version - stripe::bigint * {STRIPE_BASE}) v, max(modified_at) m
                  FROM ledger_current_balances GROUP BY account_id, currency) t
         WHERE cb.account_id = t.account_id AND cb.currency = t.currency AND cb.stripe = 0;
        DELETE FROM ledger_current_balances WHERE stripe > 0;
        ALTER TABLE ledger_current_balances DROP CONSTRAINT ledger_current_balances_pkey;
        ALTER TABLE ledger_current_balances DROP COLUMN stripe;
        ALTER TABLE ledger_current_balances ADD PRIMARY KEY (account_id, currency),
            ADD CONSTRAINT ledger_current_balances_currency_check CHECK (currency IN ('USD', 'BTC'));
        ALTER TABLE ledger_entries
            ADD CONSTRAINT ledger_entries_currency_check CHECK (currency IN ('USD', 'BTC')),
            ADD CONSTRAINT ledger_entries_units_check CHECK (units > 0),
            ADD CONSTRAINT ledger_entries_direction_check CHECK (direction IN ('debit', 'credit')),
            ADD CONSTRAINT ledger_entries_layer_check CHECK (layer IN ('settled', 'pending', 'encumbrance'));
        """
        + definition_from("0011_ledger_post_lean.py", "_LEAN")
    )
