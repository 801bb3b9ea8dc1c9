"""Striped balance rows (migration 0040, docs/ledger.md "Hot accounts"): hot control-free accounts
grow stripes instead of serialising, reads stay exact, controlled accounts keep one locked row."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import asyncpg
import pytest
from alembic import command
from sqlalchemy import text

from activities import ledger
from activities.ledger.posting import POST_SQL
from activities.migrate import alembic_config
from domain.ledger.errors import InsufficientBalance
from ground.db import asyncpg_dsn
from tests.integration.ledger_helpers import make_account, make_set

POSTERS = 12


async def _stripes(engine, account_id) -> list[int]:
    async with engine.connect() as conn:
        return list((await conn.execute(text(
            "SELECT stripe FROM ledger_current_balances WHERE account_id = :a AND currency = 'USD' ORDER BY stripe"),
            {"a": account_id})).scalars())


async def _hammer(db_url, omni, others, rounds=15):
    """POSTERS connections posting omnibus → product account at once; returns the transactions."""
    pool = await asyncpg.create_pool(asyncpg_dsn(db_url), min_size=POSTERS, max_size=POSTERS)
    try:
        async def poster(p):
            out = []
            for i in range(rounds):
                out.append(await ledger.post(pool, "TRANSFER", {
                    "from_account_id": omni, "to_account_id": others[(p + i) % len(others)], "amount": 1 + p},
                    idempotency_key=f"hot:{p}:{i}"))
            return out
        return [tx for txs in await asyncio.gather(*(poster(p) for p in range(POSTERS))) for tx in txs]
    finally:
        await pool.close()


async def test_hot_account_grows_stripes_and_reads_stay_exact(engine, db_url):
    omni = await make_account(engine, "debit")
    others = [await make_account(engine, "credit") for _ in range(6)]
    chart = await make_set(engine, "debit", [omni, *others])
    assert await _stripes(engine, omni) == [0]
    txs = await _hammer(db_url, omni, others)

    stripes = await _stripes(engine, omni)
    assert len(stripes) > 1, "concurrent posters should have spread over stripes"
    assert stripes == list(range(len(stripes))) and len(stripes) <= 16
    expected = sum(1 + p for p in range(POSTERS)) * 15
    async with engine.connect() as conn:
        bal = await ledger.balance(conn, omni, "USD")
        assert bal.settled == expected
        assert bal.version == len(txs)  # the number of updates, summed over stripes
        assert (await ledger.set_balances(conn, chart))["USD"].settled == 0
        # As of every posting's instant: exactly the postings recorded by then.
        for tx in txs[::7]:
            upto = sum(t.entries[0].units for t in txs if t.recorded_at <= tx.recorded_at)
            assert (await ledger.balance(conn, omni, "USD", as_of=tx.recorded_at)).settled == upto
            before = tx.recorded_at - dt.timedelta(microseconds=1)
            assert (await ledger.balance(conn, omni, "USD", as_of=before)).settled == upto - sum(
                t.entries[0].units for t in txs if t.recorded_at == tx.recorded_at)
        today = dt.datetime.now(dt.UTC).date()
        rng = await ledger.range_balances(conn, omni, today, today)
        assert rng["USD"].close.settled == expected and rng["USD"].period_debits() == expected
        versions = (await conn.execute(text(
            "SELECT count(*), count(DISTINCT version) FROM ledger_balance_history WHERE account_id = :a"),
            {"a": omni})).one()
    assert versions[0] == versions[1] == len(txs)


async def test_uncontended_account_keeps_one_row(engine):
    a, b = await make_account(engine, "debit"), await make_account(engine)
    for i in range(5):
        await ledger.post(engine, "TRANSFER", {"from_account_id": a, "to_account_id": b, "amount": 10},
                          idempotency_key=f"calm:{i}")
    assert await _stripes(engine, a) == [0] and await _stripes(engine, b) == [0]
    async with engine.connect() as conn:
        assert (await ledger.balance(conn, a, "USD")).version == 5


async def test_controlled_account_stays_on_one_stripe_and_never_overdraws(engine, db_url):
    omni = await make_account(engine, "debit")
    cust = await make_account(engine, "credit", control="settled")
    p = {"deposit_omnibus_account_id": omni, "credit_account_id": cust}
    await ledger.post(engine, "RECORD_DEPOSIT", {**p, "amount": 1_000}, idempotency_key="fund")
    pool = await asyncpg.create_pool(asyncpg_dsn(db_url), min_size=POSTERS, max_size=POSTERS)

    async def withdraw(i):
        try:
            await ledger.post(pool, "INITIATE_WITHDRAW", {**p, "amount": 70}, idempotency_key=f"w:{i}")
            return True
        except InsufficientBalance:
            return False

    try:
        ok = await asyncio.gather(*(withdraw(i) for i in range(POSTERS * 2)))
    finally:
        await pool.close()
    assert sum(ok) == 1_000 // 70
    assert await _stripes(engine, cust) == [0]
    async with engine.connect() as conn:
        assert (await ledger.balance(conn, cust, "USD")).settled == 1_000 - 70 * sum(ok)
        lowest = (await conn.execute(text(
            "SELECT min(settled_cr - settled_dr) FROM ledger_balance_history WHERE account_id = :a"),
            {"a": cust})).scalar()
    assert lowest >= 0


async def test_control_cannot_be_added_to_a_striped_account(engine, db_url):
    omni = await make_account(engine, "debit")
    others = [await make_account(engine, "credit") for _ in range(3)]
    await _hammer(db_url, omni, others, rounds=5)
    assert len(await _stripes(engine, omni)) > 1
    with pytest.raises(Exception, match="striped balances"):
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE ledger_accounts SET min_zero = 'settled' WHERE id = :a"), {"a": omni})
    calm = await make_account(engine, "credit")
    async with engine.begin() as conn:  # one stripe: allowed
        await conn.execute(text("UPDATE ledger_accounts SET min_zero = 'settled' WHERE id = :a"), {"a": calm})


@pytest.mark.parametrize("bad", [
    {"currencies": ["USD", "EUR"]}, {"directions": ["debit", "up"]}, {"layers": ["settled", "cleared"]},
    {"units": [0, 0]}, {"units": [5, None]},
])
async def test_sql_function_refuses_bad_entry_values(engine, bad):
    a, b = await make_account(engine, "debit"), await make_account(engine)
    args = {"accounts": [a, b], "currencies": ["USD", "USD"], "units": [5, 5], "directions": ["debit", "credit"],
            "layers": ["settled", "settled"], **bad}
    async with engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        with pytest.raises(asyncpg.PostgresError) as err:
            await raw.fetchrow(POST_SQL, uuid.uuid4(), ledger.DEFAULT_JOURNAL_ID, "X", 1, "bad", "h", None, None,
                               dt.date.today(), "", "{}", args["accounts"], args["currencies"], args["units"],
                               args["directions"], args["layers"], ["A", "B"])
        assert err.value.sqlstate == "LG007"
        assert (await conn.execute(text("SELECT count(*) FROM ledger_entries"))).scalar() == 0


async def test_downgrade_folds_stripes_and_history(engine, db_url):
    omni = await make_account(engine, "debit")
    others = [await make_account(engine, "credit") for _ in range(4)]
    txs = await _hammer(db_url, omni, others, rounds=6)
    assert len(await _stripes(engine, omni)) > 1
    mid = sorted(txs, key=lambda t: t.recorded_at)[len(txs) // 2].recorded_at
    async with engine.connect() as conn:
        now = await ledger.balance(conn, omni, "USD")
        then = await ledger.balance(conn, omni, "USD", as_of=mid)
    await engine.dispose()
    cfg = alembic_config(db_url)
    await asyncio.to_thread(command.downgrade, cfg, "0011_ledger_post_lean")
    async with engine.connect() as conn:  # the pre-stripe schema, read with its own queries
        row = (await conn.execute(text(
            "SELECT settled_dr, settled_cr, version FROM ledger_current_balances"
            " WHERE account_id = :a AND currency = 'USD'"), {"a": omni})).one()
        assert (row.settled_dr - row.settled_cr, row.version) == (now.settled, now.version)
        past = (await conn.execute(text(
            "SELECT settled_dr - settled_cr FROM ledger_balance_history WHERE account_id = :a AND currency = 'USD'"
            " AND recorded_at <= :t ORDER BY recorded_at DESC LIMIT 1"), {"a": omni, "t": mid})).scalar()
        assert past == then.settled
    await engine.dispose()
    await asyncio.to_thread(command.upgrade, cfg, "heads")
    async with engine.connect() as conn:
        assert (await ledger.balance(conn, omni, "USD")).settled == now.settled
        assert (await ledger.balance(conn, omni, "USD", as_of=mid)).settled == then.settled
