"""Helpers shared by the ledger's integration tests."""

from __future__ import annotations

import uuid

from activities import ledger


async def make_account(engine, side="credit", control=None, name=None) -> uuid.UUID:
    aid = uuid.uuid4()
    async with engine.begin() as conn:
        await ledger.create_account(conn, id=aid, code=str(aid), name=name or f"acct {aid}",
                                    normal_balance=side, control=control)
    return aid


async def make_set(engine, side="debit", members=()) -> uuid.UUID:
    sid = uuid.uuid4()
    async with engine.begin() as conn:
        await ledger.create_account_set(conn, id=sid, name=f"set {sid}", normal_balance=side)
        for m in members:
            await ledger.add_member(conn, sid, m)
    return sid
