"""Ledger posting against real PostgreSQL: balances, idempotency, rejections, controls, history."""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg
import pytest

from activities import ledger
from activities.ledger.posting import POST_SQL
from domain.ledger.errors import (
    AccountLocked,
    AccountNotFound,
    DuplicateAccount,
    IdempotencyConflict,
    InsufficientBalance,
    InvalidTemplateParams,
    MembershipCycle,
    UnknownTemplate,
)
from tests.integration.ledger_helpers import make_account, make_set


async def _counts(engine):
    async with engine.connect() as conn:
        return tuple((await conn.exec_driver_sql(
            "SELECT (SELECT count(*) FROM ledger_transactions), (SELECT count(*) FROM ledger_entries),"
            " (SELECT count(*) FROM ledger_balance_history)")).one())


async def test_deposit_withdraw_lifecycle_balances(engine):
    omni = await make_account(engine, "debit")
    cust = await make_account(engine, "credit", control="settled")
    p = {"deposit_omnibus_account_id": omni, "credit_account_id": cust, "amount": 10_000}
    tx = await ledger.post(engine, "RECORD_DEPOSIT", p, idempotency_key="dep:1")
    assert not tx.replayed and len(tx.entries) == 2
    await ledger.post(engine, "INITIATE_WITHDRAW", {**p, "amount": 2_500}, idempotency_key="wd:1:init")
    async with engine.connect() as conn:
        b = await ledger.balance(conn, cust, "USD")
        o = await ledger.balance(conn, omni, "USD")
    assert (b.settled, b.pending, b.available) == (7_500, 2_500, 10_000)
    assert (o.settled, o.pending) == (7_500, 2_500)
    await ledger.post(engine, "CONFIRM_WITHDRAW", {**p, "amount": 2_500}, idempotency_key="wd:1:confirm")
    async with engine.connect() as conn:
        b = await ledger.balance(conn, cust, "USD")
        tx_row = await ledger.get_transaction(conn, tx.id)
    assert (b.settled, b.pending) == (7_500, 0)
    assert [e["entry_type"] for e in tx_row["entries"]] == ["RECORD_DEPOSIT_DR", "RECORD_DEPOSIT_CR"]


async def test_replay_returns_original_and_conflict_on_different_request(engine):
    a, b = await make_account(engine, "debit"), await make_account(engine)
    p = {"from_account_id": a, "to_account_id": b, "amount": 100}
    first = await ledger.post(engine, "TRANSFER", p, idempotency_key="k1")
    before = await _counts(engine)
    again = await ledger.post(engine, "TRANSFER", p, idempotency_key="k1")
    assert again.replayed and again.id == first.id and again.recorded_at == first.recorded_at
    assert again.effective == first.effective
    assert await _counts(engine) == before
    with pytest.raises(IdempotencyConflict) as err:
        await ledger.post(engine, "TRANSFER", {**p, "amount": 101}, idempotency_key="k1")
    assert err.value.code == "ledger.idempotency_conflict" and err.value.status == 409
    assert await _counts(engine) == before


async def test_overdraft_control_rejects_and_writes_nothing(engine):
    omni = await make_account(engine, "debit")
    cust = await make_account(engine, "credit", control="settled")
    p = {"deposit_omnibus_account_id": omni, "credit_account_id": cust, "amount": 500}
    await ledger.post(engine, "RECORD_DEPOSIT", p, idempotency_key="d")
    before = await _counts(engine)
    with pytest.raises(InsufficientBalance) as err:
        await ledger.post(engine, "INITIATE_WITHDRAW", {**p, "amount": 800}, idempotency_key="w")
    assert err.value.extra["account_id"] == str(cust) and err.value.extra["shortfall"] == 300
    assert str(cust) in err.value.detail
    assert await _counts(engine) == before


async def test_unbalanced_rejected_in_sql_function_too(engine):
    a, b = await make_account(engine, "debit"), await make_account(engine)
    async with engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        with pytest.raises(asyncpg.PostgresError) as err:
            await raw.fetchrow(POST_SQL, uuid.uuid4(), ledger.DEFAULT_JOURNAL_ID, "X", 1, "u1", "h",
                               None, None, dt.date.today(), "", "{}", [a, b], ["USD", "USD"], [100, 99],
                               ["debit", "credit"], ["settled", "settled"], ["A", "B"])
        assert err.value.sqlstate == "LG003"
    assert (await _counts(engine))[0] == 0


async def test_locked_account_and_bad_params(engine):
    a, b = await make_account(engine, "debit"), await make_account(engine)
    async with engine.begin() as conn:
        await ledger.set_account_status(conn, b, "locked")
    with pytest.raises(AccountLocked):
        await ledger.post(engine, "TRANSFER", {"from_account_id": a, "to_account_id": b, "amount": 1},
                          idempotency_key="x")
    with pytest.raises(InvalidTemplateParams):
        await ledger.post(engine, "TRANSFER", {"from_account_id": a, "to_account_id": b, "amount": 1.5},
                          idempotency_key="y")
    with pytest.raises(UnknownTemplate):
        await ledger.post(engine, "NOPE", {}, idempotency_key="z")


async def test_post_inside_callers_transaction_rolls_back_with_it(engine):
    a, b = await make_account(engine, "debit"), await make_account(engine)
    with pytest.raises(RuntimeError):
        async with engine.begin() as conn:
            await ledger.post(conn, "TRANSFER", {"from_account_id": a, "to_account_id": b, "amount": 7},
                              idempotency_key="in-op")
            raise RuntimeError("caller failed after posting")
    assert (await _counts(engine))[0] == 0


async def test_sets_roll_up_nested_and_as_of_and_range(engine):
    omni = await make_account(engine, "debit")
    c1, c2 = await make_account(engine), await make_account(engine)
    leaf = await make_set(engine, "credit", [c1])
    root = await make_set(engine, "credit", [leaf, c2])
    await make_set(engine, "credit", [c2])  # an account may sit in several sets
    with pytest.raises(MembershipCycle):
        async with engine.begin() as conn:
            await ledger.add_member(conn, leaf, root)
    t1 = await ledger.post(engine, "TRANSFER", {"from_account_id": omni, "to_account_id": c1, "amount": 300},
                           idempotency_key="s1", effective=dt.date(2026, 1, 10))
    await ledger.post(engine, "TRANSFER", {"from_account_id": omni, "to_account_id": c2, "amount": 50},
                      idempotency_key="s2", effective=dt.date(2026, 2, 10))
    async with engine.connect() as conn:
        now = await ledger.set_balances(conn, root)
        then = await ledger.set_balances(conn, root, as_of=t1.recorded_at)
        before = await ledger.set_balances(conn, root, as_of=t1.recorded_at - dt.timedelta(microseconds=1))
        rng = await ledger.range_balances(conn, root, dt.date(2026, 2, 1), dt.date(2026, 2, 28))
        members = await ledger.list_members(conn, root)
        hist = await ledger.entries(conn, c1)
    assert now["USD"].settled == 350 and then["USD"].settled == 300 and before["USD"].settled == 0
    assert rng["USD"].open.settled == 300 and rng["USD"].close.settled == 350
    assert rng["USD"].period_credits() == 50 and rng["USD"].period_debits() == 0
    assert {m["id"] for m in members} == {leaf, c2}
    assert [h["units"] for h in hist] == [300]


async def test_post_activity_is_idempotent_and_maps_errors(engine):
    from temporalio.exceptions import ApplicationError
    from temporalio.testing import ActivityEnvironment

    from activities.ledger.activity import LedgerActivities, PostRequest

    a, b = await make_account(engine, "debit"), await make_account(engine, control="settled")
    acts, env = LedgerActivities(engine), ActivityEnvironment()
    req = PostRequest(template_code="TRANSFER", params={"from_account_id": str(a), "to_account_id": str(b),
                                                        "amount": 40}, idempotency_key="wf:1")
    first = await env.run(acts.post, req)
    second = await env.run(acts.post, req)
    assert second.replayed and second.id == first.id
    bad = req.model_copy(update={"params": {"from_account_id": str(b), "to_account_id": str(a), "amount": 99},
                                 "idempotency_key": "wf:2"})
    with pytest.raises(ApplicationError) as err:
        await env.run(acts.post, bad)
    assert err.value.type == "ledger.insufficient_balance" and err.value.non_retryable


async def test_accounts_join_sets_without_the_membership_lock(engine):
    """Only a set-in-set edge can close a cycle, so only those serialise: while one transaction holds
    the membership lock (it added a set to a set), another adds accounts to a set at once."""
    from sqlalchemy import text

    from domain.ledger.errors import AccountNotFound, AccountSetNotFound

    parent, child, target = await make_set(engine), await make_set(engine), await make_set(engine)
    a1, a2 = await make_account(engine), await make_account(engine)
    async with engine.connect() as holder, engine.connect() as other:
        await holder.begin()
        await ledger.add_member(holder, parent, child)  # takes the membership lock until commit
        await other.begin()
        await other.execute(text("SET LOCAL lock_timeout = '2s'"))
        await ledger.add_member(other, target, a1)  # would time out on the lock if it took it
        await ledger.add_member(other, target, a1)  # idempotent
        await other.commit()
        await holder.commit()
    async with engine.begin() as conn:
        await ledger.add_member(conn, child, a2)
        assert {m["id"] for m in await ledger.list_members(conn, target)} == {a1}
        assert {m["id"] for m in await ledger.list_members(conn, parent)} == {child}
    with pytest.raises(MembershipCycle):
        async with engine.begin() as conn:
            await ledger.add_member(conn, child, parent)
    with pytest.raises(AccountSetNotFound):
        async with engine.begin() as conn:
            await ledger.add_member(conn, uuid.uuid4(), a1)
    with pytest.raises(AccountNotFound):
        async with engine.begin() as conn:
            await ledger.add_member(conn, parent, uuid.uuid4())


async def test_concurrent_first_uses_of_one_account_or_set_agree(engine):
    """Two transactions create the same set and account (same id, same external id) at once: the
    second waits for the first and returns what it created, never a duplicate-key refusal."""
    import asyncio

    sid, aid = uuid.uuid4(), uuid.uuid4()
    async with engine.connect() as first, engine.connect() as second, engine.connect() as third:
        for conn in (first, second, third):
            await conn.begin()
        await ledger.create_account_set(first, id=sid, name="Set", external_id=f"set:{sid}")
        await ledger.create_account(first, id=aid, code=str(aid), name="Acct", external_id=f"acct:{aid}")
        waiting = [asyncio.create_task(ledger.create_account_set(second, id=sid, name="Set", external_id=f"set:{sid}")),
                   asyncio.create_task(ledger.create_account(third, id=aid, code=str(aid), name="Acct",
                                                             external_id=f"acct:{aid}"))]
        await asyncio.sleep(0.3)
        assert not any(t.done() for t in waiting)  # both wait on the first transaction's rows
        await first.commit()
        created_set, created_account = await asyncio.gather(*waiting)
        assert (created_set["id"], created_account["id"]) == (sid, aid)
        await second.commit()
        await third.commit()
    async with engine.connect() as conn:
        assert (await ledger.balance(conn, aid, "USD")).settled == 0  # its balance rows exist once


async def test_accounts_and_memberships_in_one_statement_each(engine):
    """Several accounts created and joined to their sets at once, again idempotently; an id stored
    with other attributes, or a code taken by another id, is refused."""
    sid = await make_set(engine)
    specs = [ledger.AccountSpec(id=uuid.uuid4(), code=f"BATCH-{i}", name=f"Batch {i}", normal_balance=side,
                                external_id=f"batch:{i}", control=control, metadata={"i": i})
             for i, (side, control) in enumerate([("credit", None), ("debit", "settled"), ("credit", "available")])]
    for _ in range(2):
        async with engine.begin() as conn:
            created = await ledger.create_accounts(conn, specs)
            await ledger.add_account_members(conn, [(sid, s.id) for s in specs])
    assert {a["id"]: (a["code"], a["normal_balance_type"], a["min_zero"], a["metadata"]) for a in created.values()} == {
        s.id: (s.code, s.normal_balance, s.control, {"i": i}) for i, s in enumerate(specs)}
    async with engine.connect() as conn:
        assert {m["id"] for m in await ledger.list_members(conn, sid)} == {s.id for s in specs}
        rows = (await conn.exec_driver_sql(
            "SELECT account_id, count(*) FROM ledger_current_balances WHERE account_id = ANY($1) GROUP BY 1",
            ([s.id for s in specs],))).all()
        assert dict(rows) == {s.id: 2 for s in specs}  # one balance row per currency, once
    with pytest.raises(DuplicateAccount):
        async with engine.begin() as conn:
            await ledger.create_accounts(conn, [ledger.AccountSpec(id=specs[0].id, code="BATCH-0", name="Renamed")])
    with pytest.raises(DuplicateAccount):
        async with engine.begin() as conn:
            await ledger.create_accounts(conn, [ledger.AccountSpec(id=uuid.uuid4(), code="BATCH-1", name="Other")])


async def test_create_is_idempotent_and_external_ids_resolve(engine):
    sid, aid = uuid.uuid4(), uuid.uuid4()
    async with engine.begin() as conn:
        for _ in range(2):
            await ledger.create_account_set(conn, id=sid, name="Deposits", external_id="j:deposit-set")
            await ledger.create_account(conn, id=aid, code="DEP-1", name="Dep", external_id="dep:1")
            await ledger.add_member(conn, sid, aid)
        assert (await ledger.find_set_by_external_id(conn, "j:deposit-set"))["id"] == sid
        assert (await ledger.find_account_by_external_id(conn, "dep:1"))["id"] == aid
        assert len(await ledger.list_members(conn, sid)) == 1
    with pytest.raises(DuplicateAccount):
        async with engine.begin() as conn:
            await ledger.create_account(conn, id=uuid.uuid4(), code="DEP-1", name="Other")


async def test_current_balances_reads_many_accounts_as_balance_does(engine):
    omni = await make_account(engine, "debit")
    cust = await make_account(engine, "credit", control="settled")
    untouched = await make_account(engine, "credit")
    p = {"deposit_omnibus_account_id": omni, "credit_account_id": cust, "amount": 10_000}
    await ledger.post(engine, "RECORD_DEPOSIT", p, idempotency_key="many:dep")
    await ledger.post(engine, "INITIATE_WITHDRAW", {**p, "amount": 2_500}, idempotency_key="many:wd")
    wanted = [(cust, "USD"), (omni, "USD"), (untouched, "USD"), (cust, "BTC"), (omni, "USD")]
    async with engine.connect() as conn:
        many = await ledger.current_balances(conn, wanted)
        one_by_one = [await ledger.balance(conn, a, c) for a, c in wanted]
        assert many == one_by_one
        assert [(b.settled, b.pending) for b in many] == [(7_500, 2_500), (7_500, 2_500), (0, 0), (0, 0),
                                                          (7_500, 2_500)]
        with pytest.raises(AccountNotFound):
            await ledger.current_balances(conn, [(cust, "USD"), (uuid.uuid4(), "USD")])
