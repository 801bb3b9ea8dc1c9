"""Statement reads: every chart node's subtree sums in ONE query (read-time roll-up, docs/ledger.md).

The recursive CTE expands each node to the set of accounts below it (through child nodes and the
product sets attached under them; each account once per node), and the entries of the currency and
layer are summed per account once, then per node. Opening = effective < ``start``; closing =
effective ≤ ``until``. Closing transactions can be left out (P&L periods).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from activities import ledger
from activities.accounting import chart
from domain.accounting import statements as st
from domain.accounting.codes import Code, parse_code
from domain.accounting.errors import BaseConfigNotFound

_NODE_SUMS = text("""
WITH RECURSIVE closure(node_code, set_id) AS (
    SELECT n.code, n.account_set_id FROM accounting_chart_nodes n WHERE n.chart_id = :chart
  UNION
    SELECT c.node_code, m.member_set_id FROM closure c JOIN ledger_set_members m ON m.set_id = c.set_id
     WHERE m.member_set_id IS NOT NULL
), node_accounts AS (
    SELECT DISTINCT c.node_code, m.member_account_id AS account_id
      FROM closure c JOIN ledger_set_members m ON m.set_id = c.set_id WHERE m.member_account_id IS NOT NULL
), acct AS (
    SELECT e.account_id,
           coalesce(sum(e.units) FILTER (WHERE e.direction = 'debit' AND e.effective < :start), 0) AS o_dr,
           coalesce(sum(e.units) FILTER (WHERE e.direction = 'credit' AND e.effective < :start), 0) AS o_cr,
           coalesce(sum(e.units) FILTER (WHERE e.direction = 'debit'), 0) AS c_dr,
           coalesce(sum(e.units) FILTER (WHERE e.direction = 'credit'), 0) AS c_cr
      FROM ledger_entries e
     WHERE e.currency = :currency AND e.layer = :layer AND e.effective <= :until
       AND e.transaction_id <> ALL (CAST(:excluded AS uuid[]))
     GROUP BY e.account_id
)
SELECT na.node_code AS code, sum(a.o_dr)::bigint AS o_dr, sum(a.o_cr)::bigint AS o_cr,
       sum(a.c_dr)::bigint AS c_dr, sum(a.c_cr)::bigint AS c_cr
  FROM node_accounts na JOIN acct a USING (account_id) GROUP BY na.node_code
UNION ALL
SELECT NULL, sum(a.o_dr)::bigint, sum(a.o_cr)::bigint, sum(a.c_dr)::bigint, sum(a.c_cr)::bigint
  FROM acct a WHERE NOT EXISTS (SELECT 1 FROM node_accounts na WHERE na.account_id = a.account_id)
""")


async def node_sums(conn: AsyncConnection, start: dt.date, until: dt.date, currency: str = "USD",
                    layer: str = "settled", exclude_closing: bool = False) -> dict[Any, st.Sums]:
    excluded: list[uuid.UUID] = []
    if exclude_closing:
        excluded = list((await conn.execute(text(
            "SELECT closing_tx_id FROM accounting_fiscal_years WHERE closing_tx_id IS NOT NULL"))).scalars())
    rows = await conn.execute(_NODE_SUMS, {"chart": chart.CHART_ID, "start": start, "until": until,
                                           "currency": currency, "layer": layer, "excluded": excluded})
    out: dict[Any, st.Sums] = {}
    for r in rows:
        if r.o_dr is None:
            continue
        key = parse_code(r.code) if r.code is not None else st.UNMAPPED
        out[key] = st.Sums(int(r.o_dr), int(r.o_cr), int(r.c_dr), int(r.c_cr))
    return out


async def _nodes(conn: AsyncConnection) -> dict[Code, st.NodeInfo]:
    return {c: st.NodeInfo(n.code, n.name, n.parent, n.normal_balance) for c, n in (await chart.nodes(conn)).items()}


async def _base(conn: AsyncConnection):
    base = await chart.base_config(conn)
    if base is None:
        raise BaseConfigNotFound("The chart has no base config yet (import it with a base config).")
    return base


async def trial_balance(conn, start: dt.date, until: dt.date, currency: str, layer: str = "settled") -> dict:
    tb = st.trial_balance(await _nodes(conn), await node_sums(conn, start, until, currency, layer))
    return {"from": start, "until": until, "currency": currency, "layer": layer, **tb}


async def fiscal_year_start(conn: AsyncConnection, day: dt.date) -> dt.date:
    found = (await conn.execute(text(
        "SELECT opened_as_of FROM accounting_fiscal_years WHERE opened_as_of <= :d ORDER BY opened_as_of DESC"
        " LIMIT 1"), {"d": day})).scalar()
    return found or dt.date(day.year, 1, 1)


async def balance_sheet(conn, as_of: dt.date, currency: str, layer: str = "settled") -> dict:
    base = await _base(conn)
    fy_start = await fiscal_year_start(conn, as_of)
    sums = await node_sums(conn, fy_start, as_of, currency, layer)
    return {"as_of": as_of, "currency": currency, "layer": layer, "fiscal_year_start": fy_start,
            **st.balance_sheet(await _nodes(conn), sums, base)}


async def profit_and_loss(conn, start: dt.date, until: dt.date, currency: str, layer: str = "settled") -> dict:
    base = await _base(conn)
    sums = await node_sums(conn, start, until, currency, layer, exclude_closing=True)
    return {"from": start, "until": until, "currency": currency, "layer": layer,
            **st.profit_and_loss(await _nodes(conn), sums, base)}


async def account_history(conn: AsyncConnection, account_id: uuid.UUID, limit: int = 100_000) -> list[dict]:
    """Every entry of one ledger account, newest first, with its transaction's description."""
    await ledger.get_account(conn, account_id)
    rows = await conn.execute(text(
        "SELECT e.transaction_id, e.sequence, e.currency, e.units, e.direction, e.layer, e.entry_type,"
        " e.effective, e.recorded_at, t.description FROM ledger_entries e"
        " JOIN ledger_transactions t ON t.id = e.transaction_id WHERE e.account_id = :id"
        " ORDER BY e.recorded_at DESC, e.transaction_id DESC, e.sequence DESC LIMIT :n"),
        {"id": account_id, "n": limit})
    return [dict(r._mapping) for r in rows]
