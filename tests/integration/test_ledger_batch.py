"""``ledger.post_many`` / ``ledger_post_batch``: many transactions in one round trip, each posted,
replayed or refused on its own, with ``post``'s idempotency semantics."""

from __future__ import annotations

import asyncio
import datetime as dt
import random

import asyncpg
import pytest
from sqlalchemy import text

from activities import ledger
from activities.ledger import Posting
from domain.errors import LanaError
from ground.db import asyncpg_dsn
from tests.integration.ledger_helpers import make_account


def _t(frm, to, amount, key, **kw) -> Posting:
    return Posting("TRANSFER", {"from_account_id": frm, "to_account_id": to, "amount": amount}, key, **kw)


async def _counts(engine):
    async with engine.connect() as conn:
        return tuple((await conn.exec_driver_sql(
            "SELECT (SELECT count(*) FROM ledger_transactions), (SELECT count(*) FROM ledger_entries),"
            " (SELECT count(*) FROM ledger_balance_history)")).one())


async def _bal(engine, account, currency="USD", as_of=None):
    async with engine.connect() as conn:
        return await ledger.balance(conn, account, currency, as_of=as_of)


async def test_batch_posts_all_and_replays_on_repeat(engine):
    a, b, c = await make_account(engine, "debit"), await make_account(engine), await make_account(engine)
    batch = [_t(a, b, 10, "k1"), _t(a, c, 20, "k2"), _t(b, c, 5, "k3", effective=dt.date(2026, 3, 1))]
    first = await ledger.post_many(engine, batch)
    assert [r.status for r in first] == ["posted"] * 3 and [r.index for r in first] == [0, 1, 2]
    assert len({r.transaction.recorded_at for r in first}) == 1  # one call, one instant
    assert first[2].transaction.effective == dt.date(2026, 3, 1)
    assert ((await _bal(engine, a)).settled, (await _bal(engine, b)).settled, (await _bal(engine, c)).settled) \
        == (30, 5, 25)
    async with engine.connect() as conn:
        tx = await ledger.get_transaction(conn, first[1].transaction.id)
    assert [(e["sequence"], e["units"]) for e in tx["entries"]] == [(1, 20), (2, 20)]
    assert tx["idempotency_key"] == "k2"
    before = await _counts(engine)
    again = await ledger.post_many(engine, batch)
    assert [r.status for r in again] == ["replayed"] * 3
    assert [r.transaction.id for r in again] == [r.transaction.id for r in first]
    assert [r.transaction.recorded_at for r in again] == [r.transaction.recorded_at for r in first]
    assert await _counts(engine) == before
    # A single post and a batch item with the same key replay each other.
    single = await ledger.post(engine, "TRANSFER", {"from_account_id": a, "to_account_id": b, "amount": 10},
                               idempotency_key="k1")
    assert single.replayed and single.id == first[0].transaction.id
    solo = await ledger.post(engine, "TRANSFER", {"from_account_id": a, "to_account_id": b, "amount": 1},
                             idempotency_key="k4")
    assert (await ledger.post_many(engine, [_t(a, b, 1, "k4")]))[0].transaction.id == solo.id


async def test_one_refusal_does_not_refuse_the_others(engine):
    omni = await make_account(engine, "debit")
    cust = await make_account(engine, "credit", control="settled")
    other, locked = await make_account(engine), await make_account(engine)
    async with engine.begin() as conn:
        await ledger.set_account_status(conn, locked, "locked")
    p = {"deposit_omnibus_account_id": omni, "credit_account_id": cust}
    await ledger.post(engine, "RECORD_DEPOSIT", {**p, "amount": 100}, idempotency_key="fund")
    await ledger.post(engine, "TRANSFER", {"from_account_id": omni, "to_account_id": other, "amount": 1},
                      idempotency_key="used")
    results = await ledger.post_many(engine, [
        Posting("INITIATE_WITHDRAW", {**p, "amount": 80}, "w1"),
        Posting("INITIATE_WITHDRAW", {**p, "amount": 50}, "w2"),   # 20 left: refused
        Posting("INITIATE_WITHDRAW", {**p, "amount": 20}, "w3"),   # decided after w2's refusal: fits
        _t(omni, locked, 5, "to-locked"),
        _t(omni, other, 7, "used"),                                  # key used by another request
        Posting("TRANSFER", {"from_account_id": omni, "to_account_id": other, "amount": -3}, "bad-params"),
        Posting("NO_SUCH_TEMPLATE", {}, "unknown"),
        _t(omni, other, 9, "fine"),
    ])
    assert [r.status for r in results] == ["posted", "refused", "posted", "refused", "refused", "refused",
                                           "refused", "posted"]
    codes = [r.error.code if r.error else None for r in results]
    assert codes == [None, "ledger.insufficient_balance", None, "ledger.account_locked",
                     "ledger.idempotency_conflict", "ledger.invalid_template_params", "ledger.unknown_template", None]
    assert results[1].error.extra["shortfall"] == 30 and results[1].error.status == 422
    assert str(locked) in results[3].error.detail
    b = await _bal(engine, cust)
    assert (b.settled, b.pending) == (0, 100)
    assert (await _bal(engine, other)).settled == 1 + 9
    async with engine.connect() as conn:
        keys = set((await conn.execute(text("SELECT idempotency_key FROM ledger_transactions"))).scalars())
    assert keys == {"fund", "used", "w1", "w3", "fine"}


async def test_duplicate_keys_inside_one_batch_are_decided_in_order(engine):
    a, b = await make_account(engine, "debit"), await make_account(engine, control="settled")
    results = await ledger.post_many(engine, [
        _t(b, a, 5, "x"),   # b has nothing: refused, the key stays free
        _t(a, b, 5, "x"),   # a different request under the free key: posted
        _t(a, b, 5, "x"),   # the same request again: replays the one just posted
        _t(a, b, 6, "x"),   # a different one: conflict
    ])
    assert [r.status for r in results] == ["refused", "posted", "replayed", "refused"]
    assert results[0].error.code == "ledger.insufficient_balance"
    assert results[2].transaction.id == results[1].transaction.id and results[2].transaction.replayed
    assert results[3].error.code == "ledger.idempotency_conflict"
    assert (await _bal(engine, b)).settled == 5
    assert (await _counts(engine))[0] == 1


async def test_closed_period_refuses_only_the_backdated_posting(engine):
    a, b = await make_account(engine, "debit"), await make_account(engine)
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE ledger_journals SET closed_through = '2026-01-31' WHERE id = :j"),
                           {"j": ledger.DEFAULT_JOURNAL_ID})
    results = await ledger.post_many(engine, [_t(a, b, 3, "jan", effective=dt.date(2026, 1, 15)),
                                              _t(a, b, 4, "feb", effective=dt.date(2026, 2, 2))])
    assert [r.status for r in results] == ["refused", "posted"]
    assert results[0].error.code == "accounting.period_closed"


async def test_batch_joins_the_callers_transaction(engine):
    a, b = await make_account(engine, "debit"), await make_account(engine)
    with pytest.raises(RuntimeError):
        async with engine.begin() as conn:
            results = await ledger.post_many(conn, [_t(a, b, 1, "in-op:1"), _t(a, b, 2, "in-op:2")])
            assert [r.status for r in results] == ["posted", "posted"]
            raise RuntimeError("caller failed after posting")
    assert (await _counts(engine))[0] == 0
    async with engine.begin() as conn:
        await ledger.post_many(conn, [_t(a, b, 1, "in-op:1")])
    assert (await _bal(engine, a)).settled == 1


async def test_as_of_sees_a_batch_all_at_once(engine):
    a, b = await make_account(engine, "debit"), await make_account(engine)
    results = await ledger.post_many(engine, [_t(a, b, n, f"asof:{n}") for n in (1, 2, 3)])
    at = results[0].transaction.recorded_at
    assert (await _bal(engine, a, as_of=at)).settled == 6
    assert (await _bal(engine, a, as_of=at)).version == 3
    assert (await _bal(engine, a, as_of=at - dt.timedelta(microseconds=1))).settled == 0


async def test_concurrent_batches_and_single_posts_never_deadlock(engine, db_url):
    accounts = [await make_account(engine, "debit") for _ in range(5)]
    capped = await make_account(engine, "credit", control="settled")
    await ledger.post(engine, "TRANSFER", {"from_account_id": accounts[0], "to_account_id": capped, "amount": 500},
                      idempotency_key="seed")
    pool = await asyncpg.create_pool(asyncpg_dsn(db_url), min_size=8, max_size=8)
    rnd = random.Random(11)
    plans = []
    for w in range(8):
        items = []
        for i in range(30):
            frm, to = rnd.sample([*accounts, capped], 2)  # reverse orders provoke deadlocks without lock order
            items.append(_t(frm, to, rnd.randint(1, 60), f"cc:{w}:{i}"))
        plans.append(items)

    async def worker(w, items):
        out = []
        for chunk in range(0, len(items), 10):
            if w % 2:
                out += await ledger.post_many(pool, items[chunk:chunk + 10])
            else:
                for it in items[chunk:chunk + 10]:
                    try:
                        out.append(await ledger.post(pool, it.template_code, it.params,
                                                     idempotency_key=it.idempotency_key))
                    except LanaError as exc:
                        out.append(exc)
        return out

    try:
        outcomes = await asyncio.gather(*(worker(w, items) for w, items in enumerate(plans)))
    finally:
        await pool.close()
    flat = [o for out in outcomes for o in out]
    errors = [o for o in flat if isinstance(o, Exception)] + [o.error for o in flat
                                                               if isinstance(o, ledger.PostingResult) and o.error]
    assert all(e.code == "ledger.insufficient_balance" for e in errors), errors[:3]
    async with engine.connect() as conn:
        sums = dict((await conn.execute(text(
            "SELECT account_id, sum(CASE direction WHEN 'debit' THEN units ELSE -units END) FROM ledger_entries"
            " GROUP BY account_id"))).all())
        for acct in [*accounts, capped]:
            bal = await ledger.balance(conn, acct, "USD")
            assert bal.settled_amounts.dr - bal.settled_amounts.cr == sums.get(acct, 0)
        assert (await ledger.balance(conn, capped, "USD")).settled >= 0


async def test_post_many_activity_reports_refusals_as_results(engine):
    from temporalio.testing import ActivityEnvironment

    from activities.ledger.activity import LedgerActivities, PostManyRequest, PostRequest

    a, b = await make_account(engine, "debit"), await make_account(engine, control="settled")
    req = PostManyRequest(postings=[
        PostRequest(template_code="TRANSFER", params={"from_account_id": str(a), "to_account_id": str(b), "amount": 9},
                    idempotency_key="wf:many:1"),
        PostRequest(template_code="TRANSFER", params={"from_account_id": str(b), "to_account_id": str(a), "amount": 10},
                    idempotency_key="wf:many:2"),
    ])
    acts, env = LedgerActivities(engine), ActivityEnvironment()
    first = await env.run(acts.post_many, req)
    assert [(r.status, r.error_code) for r in first] == [("posted", None), ("refused", "ledger.insufficient_balance")]
    again = await env.run(acts.post_many, req)
    assert again[0].status == "replayed" and again[0].id == first[0].id and again[0].replayed
