"""Property-based tests over random posting sequences, checked against real PostgreSQL."""

from __future__ import annotations

import uuid
from collections import defaultdict

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from activities import ledger
from domain.ledger.errors import IdempotencyConflict
from tests.integration.ledger_helpers import make_account, make_set

N_ACCOUNTS = 5
leg = st.tuples(st.integers(0, N_ACCOUNTS - 1), st.integers(0, N_ACCOUNTS - 1), st.integers(1, 10**9),
                st.sampled_from(["USD", "BTC"]), st.sampled_from(["settled", "pending", "encumbrance"]))
posting = st.tuples(st.lists(leg, min_size=1, max_size=3), st.sampled_from(["new", "new", "replay", "conflict"]))


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(sides=st.lists(st.sampled_from(["debit", "credit"]), min_size=N_ACCOUNTS, max_size=N_ACCOUNTS),
       postings=st.lists(posting, min_size=1, max_size=8))
async def test_random_posting_sequences(engine, sides, postings):
    accounts = [await make_account(engine, side) for side in sides]
    sub = await make_set(engine, "credit", accounts[:2])
    root = await make_set(engine, "debit", [sub, *accounts[1:4]])  # accounts[1] reachable twice
    ids = [str(a) for a in accounts]
    model: dict[tuple[int, str, str], list[int]] = defaultdict(lambda: [0, 0])  # (acct, ccy, layer) -> [dr, cr]
    checkpoints, posted = [], []
    for legs, kind in postings:
        params = {"accounts": ids, "legs": [list(x) for x in legs]}
        if kind in ("replay", "conflict") and posted:
            key, prev = posted[-1]
            if kind == "replay":
                again = await ledger.post(engine, "TEST_MULTI_LEG", prev["params"], idempotency_key=key)
                assert again.replayed and again.id == prev["id"]
            else:
                try:
                    await ledger.post(engine, "TEST_MULTI_LEG", params, idempotency_key=key)
                except IdempotencyConflict:
                    pass
                else:
                    assert params == prev["params"], "a different request under a used key must conflict"
            continue
        key = f"p:{uuid.uuid4()}"
        tx = await ledger.post(engine, "TEST_MULTI_LEG", params, idempotency_key=key)
        assert not tx.replayed
        posted.append((key, {"id": tx.id, "params": params}))
        for frm, to, units, ccy, layer in legs:
            model[(frm, ccy, layer)][0] += units
            model[(to, ccy, layer)][1] += units
        checkpoints.append((tx.recorded_at, {k: tuple(v) for k, v in model.items()}))

    async with engine.connect() as conn:
        # Every stored transaction balances per currency and layer.
        unbalanced = (await conn.execute(text(
            "SELECT transaction_id FROM ledger_entries WHERE account_id = ANY(:a) GROUP BY transaction_id,"
            " currency, layer HAVING sum(CASE direction WHEN 'debit' THEN units ELSE -units END) <> 0"),
            {"a": accounts})).all()
        assert unbalanced == []
        assert (await conn.execute(text("SELECT count(*) FROM ledger_transactions WHERE idempotency_key = ANY(:k)"),
                                   {"k": [k for k, _ in posted]})).scalar() == len(posted)
        current = {i: await ledger.account_balances(conn, a) for i, a in enumerate(accounts)}
        for ccy in ("USD", "BTC"):
            # Current balances match the model; signed by normal side they sum to zero.
            for i in range(N_ACCOUNTS):
                for layer in ("settled", "pending", "encumbrance"):
                    amounts = getattr(current[i][ccy], f"{layer}_amounts")
                    assert (amounts.dr, amounts.cr) == tuple(model[(i, ccy, layer)])
            total = sum(current[i][ccy].settled * (1 if sides[i] == "debit" else -1) for i in range(N_ACCOUNTS))
            assert total == 0
        # Set balances equal the sum of (distinct) members, signed by the set's side.
        root_bal = await ledger.set_balances(conn, root)
        sub_bal = await ledger.set_balances(conn, sub)
        for ccy in ("USD", "BTC"):
            dr_cr = [(current[i][ccy].settled_amounts.dr, current[i][ccy].settled_amounts.cr) for i in range(4)]
            assert root_bal[ccy].settled == sum(d - c for d, c in dr_cr)
            assert sub_bal[ccy].settled == sum(c - d for d, c in dr_cr[:2])
            assert root_bal[ccy].pending == sum(current[i][ccy].pending_amounts.dr - current[i][ccy].pending_amounts.cr
                                                for i in range(4))
        # As-of reads reproduce every historical state.
        for at, snapshot in checkpoints:
            for i, a in enumerate(accounts):
                past = await ledger.account_balances(conn, a, as_of=at)
                for ccy in ("USD", "BTC"):
                    for layer in ("settled", "pending", "encumbrance"):
                        amounts = getattr(past[ccy], f"{layer}_amounts")
                        assert (amounts.dr, amounts.cr) == snapshot.get((i, ccy, layer), (0, 0))
        if checkpoints:
            at, snapshot = checkpoints[len(checkpoints) // 2]
            past_root = await ledger.set_balances(conn, root, as_of=at)
            for ccy in ("USD", "BTC"):
                expect = sum(snapshot.get((i, ccy, "settled"), (0, 0))[0] - snapshot.get((i, ccy, "settled"), (0, 0))[1]
                             for i in range(4))
                assert past_root[ccy].settled == expect
