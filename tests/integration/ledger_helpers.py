"""Helpers shared by the ledger's integration tests."""

from __future__ import annotations

import uuid

from activities import ledger
from domain.ledger import catalogue, templates
from domain.ledger.model import Currency, Direction, Entry, Layer, TxSpec


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


# A test-only template: any number of balanced legs over a list of accounts.
@catalogue.register
@templates.template("TEST_MULTI_LEG", {"accounts": templates.Param("json"), "legs": templates.Param("json")})
def _multi_leg(p):
    entries = []
    for frm, to, units, currency, layer in p["legs"]:
        entries += [Entry(p["accounts"][frm], units, Currency(currency), Direction.DEBIT, Layer(layer), "LEG_DR"),
                    Entry(p["accounts"][to], units, Currency(currency), Direction.CREDIT, Layer(layer), "LEG_CR")]
    return TxSpec(tuple(entries), description="test")
