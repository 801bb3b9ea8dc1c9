"""The bulk seeder of the end-of-day benchmarks (``workers/bench_seed.py``): a seeded facility is
indistinguishable from the one made through the credit operations, before and after the end of
day (Jan 27–31: four accruals, then the month end's accrual, cycle completion and interest
obligation), and the books stay consistent.

A facility's *fingerprint* is every row it owns in every table the seeder writes and the end of
day reads or writes, with its own ids replaced by names (its accounts by role, its cycles by
index, its transactions by their idempotency keys, themselves renamed) and the columns that only
say when a row was written left out; the clones' fingerprints must equal the template's.
"""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

from sqlalchemy import text

from tests.integration.credit.eod_helpers import run_end_of_day
from workers.bench_eod_steps import _template
from workers.bench_seed import check_ledger, seed_facilities

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
VOLATILE = {"created_at", "updated_at", "recorded_at", "modified_at", "public_id", "request_hash", "concluded_at"}


async def _rows(conn, sql: str, **params) -> list[dict]:
    out = []
    for r in await conn.execute(text(sql), params):
        out.append({k: v for k, v in r._mapping.items() if k not in VOLATILE})
    return out


async def fingerprint(conn, fid: str) -> str:
    accounts = (await conn.execute(text("SELECT accounts FROM credit_facilities WHERE id = :f"), {"f": fid})).scalar_one()
    own = [a for role, a in accounts.items() if not role.endswith("omnibus")]
    names = {fid: "FACILITY", **{a: f"account:{role}" for role, a in accounts.items()}}
    collateral = (await conn.execute(text("SELECT collateral_id FROM credit_facilities WHERE id = :f"),
                                     {"f": fid})).scalar_one()
    names[str(collateral)] = "COLLATERAL"
    for r in await conn.execute(text("SELECT id, idx FROM credit_accrual_cycles WHERE facility_id = :f"), {"f": fid}):
        names[str(r.id)] = f"cycle:{r.idx}"
    for r in await conn.execute(text("SELECT id, is_initial FROM credit_disbursals WHERE facility_id = :f"),
                                {"f": fid}):
        names[str(r.id)] = f"disbursal:{'initial' if r.is_initial else 'later'}"
    for r in await conn.execute(text("SELECT id, obligation_type, due_date FROM credit_obligations"
                                     " WHERE facility_id = :f"), {"f": fid}):
        names[str(r.id)] = f"obligation:{r.obligation_type}:{r.due_date}"
    for r in await conn.execute(text("SELECT id, effective FROM credit_payments WHERE facility_id = :f"), {"f": fid}):
        names[str(r.id)] = f"payment:{r.effective}"
    for r in await conn.execute(text("SELECT id, seq FROM credit_payment_allocations WHERE facility_id = :f"),
                                {"f": fid}):
        names[str(r.id)] = f"allocation:{r.seq}"

    def rename(s: str) -> str:
        return UUID.sub(lambda m: names.get(m.group(0), m.group(0)), s)

    txs = await conn.execute(text(
        "SELECT DISTINCT t.id, t.idempotency_key FROM ledger_transactions t JOIN ledger_entries e"
        " ON e.transaction_id = t.id WHERE e.account_id = ANY(CAST(:a AS uuid[]))"), {"a": own})
    for r in txs:
        names[str(r.id)] = "tx:" + rename(r.idempotency_key)
    streams = [k for k, v in names.items() if not v.startswith(("account:", "tx:"))]
    p = {"f": fid, "a": own, "s": streams, "t": [k for k, v in names.items() if v.startswith("tx:")]}
    parts = {
        "facility": await _rows(conn, "SELECT * FROM credit_facilities WHERE id = :f", **p),
        "disbursals": await _rows(conn, "SELECT * FROM credit_disbursals WHERE facility_id = :f", **p),
        "cycles": await _rows(conn, "SELECT * FROM credit_accrual_cycles WHERE facility_id = :f ORDER BY idx", **p),
        "obligations": await _rows(conn, "SELECT * FROM credit_obligations WHERE facility_id = :f ORDER BY due_date,"
                                         " obligation_type", **p),
        "accruals": await _rows(conn, "SELECT * FROM credit_interest_accruals WHERE facility_id = :f"
                                      " ORDER BY period_end", **p),
        "payments": await _rows(conn, "SELECT * FROM credit_payments WHERE facility_id = :f", **p),
        "allocations": await _rows(conn, "SELECT * FROM credit_payment_allocations WHERE facility_id = :f", **p),
        "collateral": await _rows(conn, "SELECT * FROM credit_collateral_updates WHERE facility_id = :f", **p),
        "collateralization": await _rows(conn, "SELECT * FROM credit_collateralization_history"
                                               " WHERE facility_id = :f ORDER BY seq", **p),
        "events": await _rows(conn, "SELECT entity_type, entity_id, sequence, event_type, payload FROM events"
                                    " WHERE entity_id = ANY(CAST(:s AS text[])) ORDER BY entity_type, sequence", **p),
        "day_events": await _rows(conn, "SELECT business_date, step, kind, detail FROM end_of_day_events"
                                        " WHERE facility_id = :f ORDER BY business_date, step, kind", **p),
        "accounts": await _rows(conn, "SELECT * FROM ledger_accounts WHERE id = ANY(CAST(:a AS uuid[]))", **p),
        "set_members": await _rows(conn, "SELECT set_id, member_account_id FROM ledger_set_members"
                                         " WHERE member_account_id = ANY(CAST(:a AS uuid[]))", **p),
        "balances": await _rows(conn, "SELECT account_id, currency, sum(settled_dr) sdr, sum(settled_cr) scr,"
                                      " sum(pending_dr) pdr, sum(pending_cr) pcr, sum(encumbrance_dr) edr,"
                                      " sum(encumbrance_cr) ecr, sum(version - stripe * 1000000000000) v"
                                      " FROM ledger_current_balances WHERE account_id = ANY(CAST(:a AS uuid[]))"
                                      " GROUP BY 1, 2", **p),
        "history": await _rows(conn, "SELECT * FROM ledger_balance_history WHERE account_id = ANY(CAST(:a AS uuid[]))",
                               **p),
        "transactions": await _rows(conn, "SELECT * FROM ledger_transactions WHERE id = ANY(CAST(:t AS uuid[]))", **p),
        "entries": await _rows(conn, "SELECT * FROM ledger_entries WHERE transaction_id = ANY(CAST(:t AS uuid[]))",
                               **p),
    }
    # Order-free within a table: rows are compared as sorted, renamed JSON.
    return json.dumps({k: sorted(rename(json.dumps(r, sort_keys=True, default=str)) for r in rows)
                       for k, rows in parts.items()}, indent=1)


async def test_seeded_facilities_are_indistinguishable_from_the_real_one(engine):
    template = await _template(engine)
    await seed_facilities(engine, template, 5, chunk=2, sessions=2)  # three chunks, two sessions
    async with engine.connect() as conn:
        clones = [str(r.id) for r in await conn.execute(
            text("SELECT id FROM credit_facilities WHERE id <> :t ORDER BY id"), {"t": template})]
        assert len(clones) == 5
        assert await check_ledger(conn) == []
        before = await fingerprint(conn, template)
        assert 'id\\": \\"FACILITY' in before and "tx:facility:FACILITY:activate" in before  # the renaming works
        for c in clones:
            assert await fingerprint(conn, c) == before

    day = date(2025, 1, 27)
    while day <= date(2025, 1, 31):
        run = await run_end_of_day(engine, day, limit=4)  # pages of 4: a page mixes template and clones
        assert run.failures == []
        day += timedelta(days=1)

    async with engine.connect() as conn:
        assert await check_ledger(conn) == []
        after = await fingerprint(conn, template)
        assert after != before
        codes = sorted(json.loads(r)["template_code"] for r in json.loads(after)["transactions"])
        assert codes.count("CREDIT_FACILITY_ACCRUE_INTEREST") == 5
        assert "CREDIT_FACILITY_POST_ACCRUED_INTEREST" in codes and "RECORD_OBLIGATION_DUE_BALANCE" in codes
        for c in clones:
            assert await fingerprint(conn, c) == after


async def test_a_template_with_accruals_and_a_payment_is_copied_whole(engine):
    """``lana bench reports``' template: four accruals and a payment (its allocation, its events,
    its transactions, whose ids are the payment's and the allocation's own)."""
    from ground.settings import Settings
    from workers.bench_reports import _template_with_activity

    template = await _template_with_activity(engine, Settings())
    await seed_facilities(engine, template, 3, chunk=2)
    async with engine.connect() as conn:
        assert await check_ledger(conn) == []
        clones = [str(r.id) for r in await conn.execute(
            text("SELECT id FROM credit_facilities WHERE id <> :t ORDER BY id"), {"t": template})]
        before = await fingerprint(conn, template)
        parts = json.loads(before)
        assert len(parts["payments"]) == 1 and len(parts["allocations"]) == 1 and len(parts["accruals"]) == 4
        assert "tx:payment:payment:2025-01-30:record" in before
        for c in clones:
            assert await fingerprint(conn, c) == before
        paid = (await conn.execute(text("SELECT count(DISTINCT id), sum(amount_cents) FROM credit_payments"))).one()
        assert tuple(paid) == (4, 4 * 10_000)


async def test_check_ledger_reports_an_unbalanced_book(engine):
    template = await _template(engine)
    await seed_facilities(engine, template, 2)
    async with engine.begin() as conn:
        assert await check_ledger(conn) == []
        account = (await conn.execute(text(
            "SELECT account_id FROM ledger_current_balances WHERE settled_dr > 0 LIMIT 1"))).scalar_one()
        await conn.execute(text("UPDATE ledger_current_balances SET settled_dr = settled_dr + 1"
                                " WHERE account_id = :a AND stripe = 0 AND currency = 'USD'"), {"a": account})
        problems = await check_ledger(conn)
        assert len(problems) == 2 and problems[0].startswith("trial balance USD: settled 1")
