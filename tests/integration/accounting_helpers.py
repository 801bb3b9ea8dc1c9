"""Helpers for accounting tests: the default chart in the test database, accounts under nodes."""

from __future__ import annotations

import uuid

from activities import ledger
from activities.accounting import chart
from activities.accounting.bootstrap import load_default_chart


async def default_chart(engine) -> dict:
    """Load the default chart (and base/module configs) into the test DB; returns the nodes by code."""
    async with engine.begin() as conn:
        await load_default_chart(conn)
        return {n.code_str: n for n in (await chart.nodes(conn)).values()}


async def account_under(engine, code: str, side: str | None = None, name: str | None = None) -> uuid.UUID:
    """A new ledger account as a member of chart node ``code`` (normal balance of the node by default)."""
    aid = uuid.uuid4()
    async with engine.begin() as conn:
        node = await chart.get_node(conn, code)
        await ledger.create_account(conn, id=aid, code=f"T.{aid}", name=name or f"{code} {aid}",
                                    normal_balance=side or node.normal_balance)
        await ledger.add_member(conn, node.account_set_id, aid)
    return aid
