"""16+ concurrent posters on the same hot accounts: no lost update, no deadlock, no partial write."""

from __future__ import annotations

import asyncio
import random
import uuid

import asyncpg
from sqlalchemy import text

from activities import ledger
from domain.ledger.errors import InsufficientBalance
from ground.db import asyncpg_dsn
from tests.integration.ledger_helpers import make_account

POSTERS = 16


async def test_concurrent_posters_on_hot_accounts_final_balances_exact(engine, db_url):
    accounts = [await make_account(engine, "debit") for _ in range(4)]
    pool = await asyncpg.create_pool(asyncpg_dsn(db_url), min_size=POSTERS, max_size=POSTERS)
    expected = {a: 0 for a in accounts}  # debit-normal settled per account
    plans = []
    rnd = random.Random(7)
    for p in range(POSTERS):
        plan = []
        for i in range(25):
            # Multi-leg postings touching accounts in random (often reverse) order provoke deadlocks
            # unless locks are taken in one canonical order.
            a, b, c = rnd.sample(accounts, 3)
            x, y = rnd.randint(1, 1000), rnd.randint(1, 1000)
            legs = [[a, b, x], [c, a, y]]
            plan.append((f"c:{p}:{i}", legs))
            for frm, to, units in legs:
                expected[frm] += units
                expected[to] -= units
        plans.append(plan)
    # Every poster also replays a key owned by another poster: concurrent replays must not double-post.
    shared = [(k, legs) for plan in plans for k, legs in plan[:2]]

    async def poster(plan):
        for key, legs in plan + rnd.sample(shared, 4):
            await _post_legs(pool, key, legs)

    try:
        await asyncio.gather(*(poster(plan) for plan in plans))
    finally:
        await pool.close()
    async with engine.connect() as conn:
        for a in accounts:
            assert (await ledger.balance(conn, a, "USD")).settled == expected[a]
        n_tx = (await conn.execute(text("SELECT count(*) FROM ledger_transactions"))).scalar()
        n_hist = (await conn.execute(text("SELECT count(*), count(DISTINCT (account_id, currency, version))"
                                          " FROM ledger_balance_history"))).one()
    assert n_tx == POSTERS * 25
    assert n_hist[0] == n_hist[1]  # versions never collide: no lost update


async def _post_legs(pool, key, legs):
    accounts = sorted({a for leg in legs for a in leg[:2]}, key=str)
    idx = {a: str(i) for i, a in enumerate(accounts)}
    await ledger.post(pool, "TEST_MULTI_LEG",
                      {"accounts": [str(a) for a in accounts],
                       "legs": [[int(idx[f]), int(idx[t]), u, "USD", "settled"] for f, t, u in legs]},
                      idempotency_key=key)


async def test_concurrent_withdrawals_never_overdraw(engine):
    omni = await make_account(engine, "debit")
    cust = await make_account(engine, "credit", control="settled")
    p = {"deposit_omnibus_account_id": omni, "credit_account_id": cust}
    await ledger.post(engine, "RECORD_DEPOSIT", {**p, "amount": 1_000}, idempotency_key=f"d:{uuid.uuid4()}")

    async def withdraw(i):
        try:
            await ledger.post(engine, "INITIATE_WITHDRAW", {**p, "amount": 300}, idempotency_key=f"w:{i}")
            return True
        except InsufficientBalance:
            return False

    results = await asyncio.gather(*(withdraw(i) for i in range(POSTERS)))
    assert sum(results) == 3
    async with engine.connect() as conn:
        b = await ledger.balance(conn, cust, "USD")
    assert (b.settled, b.pending) == (100, 900)
