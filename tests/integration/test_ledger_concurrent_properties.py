"""Property: under concurrent posters (single posts and batches, each on its own connection, on
striped and controlled accounts), every balance read equals the sum of the entries and no balance
control is ever breached."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections import defaultdict

import asyncpg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from activities import ledger
from domain.ledger.errors import InsufficientBalance
from ground.db import asyncpg_dsn
from tests.integration.ledger_helpers import make_account, make_set

N = 5            # product accounts; index N is the omnibus every poster also hits
BASE = dt.date(2026, 1, 1)
LAYERS = ("settled", "pending", "encumbrance")
leg = st.tuples(st.integers(0, N), st.integers(0, N), st.integers(1, 400), st.sampled_from(["USD", "BTC"]),
                st.sampled_from(["settled", "settled", "pending"]))
posting = st.tuples(st.lists(leg, min_size=1, max_size=3), st.integers(0, 30))  # legs, effective day
poster = st.tuples(st.sampled_from(["single", "batch"]), st.lists(posting, min_size=1, max_size=10))


def _signed(dr: int, cr: int, side: str) -> int:
    return dr - cr if side == "debit" else cr - dr


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(sides=st.lists(st.sampled_from(["debit", "credit"]), min_size=N, max_size=N),
       controls=st.lists(st.sampled_from([None, "settled", "available"]), min_size=N, max_size=N),
       posters=st.lists(poster, min_size=2, max_size=6))
async def test_concurrent_posters_keep_every_read_exact(engine, db_url, sides, controls, posters):
    accounts = [await make_account(engine, side, control=ctl) for side, ctl in zip(sides, controls, strict=True)]
    omni = await make_account(engine, "debit")
    accounts.append(omni)
    sides = [*sides, "debit"]
    controls = [*controls, None]
    inner = await make_set(engine, "credit", accounts[2:5])
    outer = await make_set(engine, "debit", [inner, *accounts[0:3]])  # accounts[2] reachable twice
    ids = [str(a) for a in accounts]
    run = uuid.uuid4().hex[:8]
    # Fund the controlled accounts so that some withdrawals fit and some do not.
    for i, ctl in enumerate(controls[:N]):
        if ctl:
            # a leg [frm, to, ...] debits frm and credits to
            legs = [[i, N, 600, ccy, "settled"] if sides[i] == "debit" else [N, i, 600, ccy, "settled"]
                    for ccy in ("USD", "BTC")]
            await ledger.post(engine, "TEST_MULTI_LEG", {"accounts": ids, "legs": legs},
                              idempotency_key=f"{run}:fund:{i}")

    pool = await asyncpg.create_pool(asyncpg_dsn(db_url), min_size=len(posters), max_size=len(posters))

    async def one_poster(p, mode, items):
        reqs = [ledger.Posting("TEST_MULTI_LEG", {"accounts": ids, "legs": [list(x) for x in legs]},
                               f"{run}:{p}:{k}", effective=BASE + dt.timedelta(days=day))
                for k, (legs, day) in enumerate(items)]
        out = []
        if mode == "batch":
            for start in range(0, len(reqs), 4):
                out += [(r.status, r.transaction or r.error) for r in await ledger.post_many(pool, reqs[start:start + 4])]
        else:
            for r in reqs:
                try:
                    out.append(("posted", await ledger.post(pool, r.template_code, r.params,
                                                            idempotency_key=r.idempotency_key, effective=r.effective)))
                except InsufficientBalance as exc:
                    out.append(("refused", exc))
        # Replaying a posted request returns it and writes nothing.
        for (status, tx), r in zip(out, reqs, strict=True):
            if status == "posted":
                again = await ledger.post(pool, r.template_code, r.params, idempotency_key=r.idempotency_key,
                                          effective=r.effective)
                assert again.replayed and again.id == tx.id and again.recorded_at == tx.recorded_at
                break
        return out

    try:
        outcomes = await asyncio.gather(*(one_poster(p, mode, items) for p, (mode, items) in enumerate(posters)))
    finally:
        await pool.close()
    flat = [o for out in outcomes for o in out]
    assert {s for s, _ in flat} <= {"posted", "refused"}
    for status, what in flat:
        if status == "refused":
            assert isinstance(what, InsufficientBalance), what  # the only refusal these postings can meet
    posted = [tx for s, tx in flat if s == "posted"]

    async with engine.connect() as conn:
        rows = (await conn.execute(text(
            "SELECT account_id, currency, layer, direction, units, effective, recorded_at, transaction_id"
            " FROM ledger_entries WHERE account_id = ANY(:a)"), {"a": accounts})).all()
        n_tx = (await conn.execute(text(
            "SELECT count(*) FROM ledger_transactions WHERE idempotency_key LIKE :k"), {"k": f"{run}:%"})).scalar()
        assert n_tx == len(posted) + sum(1 for c in controls[:N] if c)

        def sums(pred, account):  # (currency, layer) -> [dr, cr] over matching entries
            out = defaultdict(lambda: [0, 0])
            for r in rows:
                if r.account_id == account and pred(r):
                    out[(r.currency, r.layer)][0 if r.direction == "debit" else 1] += r.units
            return out

        def check(balances, expected, side):
            for ccy in ("USD", "BTC"):
                for layer in LAYERS:
                    amounts = getattr(balances[ccy], f"{layer}_amounts")
                    assert (amounts.dr, amounts.cr) == tuple(expected.get((ccy, layer), (0, 0))), (ccy, layer)

        # Current, and as of many instants (each posting's, and just before it).
        instants = sorted({r.recorded_at for r in rows})
        probes = instants[:: max(1, len(instants) // 8)] + [instants[-1]]
        probes += [t - dt.timedelta(microseconds=1) for t in probes]
        for i, acct in enumerate(accounts):
            check(await ledger.account_balances(conn, acct), sums(lambda r: True, acct), sides[i])
            for t in probes:
                check(await ledger.account_balances(conn, acct, as_of=t),
                      sums(lambda r, t=t: r.recorded_at <= t, acct), sides[i])
            # Effective-date ranges.
            for start, until in ((BASE, BASE + dt.timedelta(days=9)), (BASE + dt.timedelta(days=10), BASE + dt.timedelta(days=40))):
                rng = await ledger.range_balances(conn, acct, start, until)
                for ccy, rb in rng.items():
                    close = sums(lambda r, u=until: r.effective <= u, acct)
                    opening = sums(lambda r, s=start: r.effective < s, acct)
                    assert (rb.close.settled_amounts.dr, rb.close.settled_amounts.cr) == tuple(close[(ccy, "settled")])
                    assert (rb.open.settled_amounts.dr, rb.open.settled_amounts.cr) == tuple(opening[(ccy, "settled")])
            # The version counts the transactions that touched the (account, currency).
            for ccy in ("USD", "BTC"):
                touched = {r.transaction_id for r in rows if r.account_id == acct and r.currency == ccy}
                assert (await ledger.balance(conn, acct, ccy)).version == len(touched)

        # Set roll-ups, current and as of: the distinct member accounts, signed by the set's side.
        members = {outer: ("debit", accounts[0:5]), inner: ("credit", accounts[2:5])}
        for set_id, (side, accts) in members.items():
            for t in (None, probes[len(probes) // 4]):
                got = await ledger.set_balances(conn, set_id, as_of=t)
                for ccy in ("USD", "BTC"):
                    want = 0
                    for a in accts:
                        dr, cr = sums(lambda r, t=t: t is None or r.recorded_at <= t, a)[(ccy, "settled")]
                        want += _signed(dr, cr, side)
                    assert got[ccy].settled == want

        # Controls: every state a controlled balance went through (its history: one stripe, so one
        # row per update, batches included) is at or above zero.
        for i, ctl in enumerate(controls):
            if not ctl:
                continue
            hist = (await conn.execute(text(
                "SELECT currency, stripe, settled_dr, settled_cr, pending_dr, pending_cr, encumbrance_dr,"
                " encumbrance_cr FROM ledger_balance_history WHERE account_id = :a"), {"a": accounts[i]})).all()
            assert hist and all(h.stripe == 0 for h in hist)
            for h in hist:
                level = _signed(h.settled_dr, h.settled_cr, sides[i])
                if ctl == "available":
                    level += _signed(h.pending_dr + h.encumbrance_dr, h.pending_cr + h.encumbrance_cr, sides[i])
                assert level >= 0, (ctl, h)
