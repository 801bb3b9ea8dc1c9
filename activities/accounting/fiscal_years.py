"""Fiscal years: open, close months (moves the ledger's ``closed_through``), close the year with
the closing transaction, open the next (moves ``open_until``). All in the caller's transaction;
fiscal-year writes serialise on the year's row lock and the chart lock."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from activities import ledger
from activities.accounting import chart
from domain.accounting import fiscal
from domain.accounting.errors import (
    AllMonthsClosed,
    BaseConfigNotFound,
    FiscalYearNotFound,
    FiscalYearWithInvalidOpenedAsOf,
    LastMonthNotClosed,
    MonthHasNotEnded,
)

_NS = uuid.UUID("a3c1f0de-5b0e-4a51-8f0e-9d9f1b7c2e44")
_COLS = ("id, year, reference, opened_as_of, closes_as_of, month_closures, last_closed_month, closed_as_of,"
         " closed_at, closing_tx_id, created_at")


def fiscal_year_id(year: int) -> uuid.UUID:
    return uuid.uuid5(_NS, f"fiscal-year:{year}")


async def _set_journal(conn: AsyncConnection, *, closed_through: dt.date | None = None,
                       open_until: dt.date | None = None) -> None:
    if closed_through is not None:
        # Wait for postings in flight (they passed ledger_post's period check under the old limit)
        # and hold new ones until this commits; ledger_post re-reads the limit after its insert.
        await conn.execute(text("LOCK TABLE ledger_transactions IN SHARE MODE"))
    await conn.execute(text(
        "UPDATE ledger_journals SET closed_through = greatest(closed_through, CAST(:c AS date)),"
        " open_until = greatest(open_until, CAST(:o AS date)) WHERE id = :j"),
        {"c": closed_through, "o": open_until, "j": ledger.DEFAULT_JOURNAL_ID})


async def first_open_date(conn: AsyncConnection, today: dt.date) -> dt.date:
    """``today``, or the first day after the journal's ``closed_through`` when today's month is
    closed (``fiscal.first_open_date``): the date a system posting dated "now" may take."""
    closed = (await conn.execute(text("SELECT closed_through FROM ledger_journals WHERE id = :j"),
                                 {"j": ledger.DEFAULT_JOURNAL_ID})).scalar_one_or_none()
    return fiscal.first_open_date(today, closed)


async def get(conn: AsyncConnection, fy_id: uuid.UUID, *, for_update: bool = False) -> dict[str, Any]:
    row = (await conn.execute(text(f"SELECT {_COLS} FROM accounting_fiscal_years WHERE id = :id"
                                   + (" FOR UPDATE" if for_update else "")), {"id": fy_id})).first()
    if row is None:
        raise FiscalYearNotFound(f"No fiscal year {fy_id}.")
    return dict(row._mapping)


async def by_year(conn: AsyncConnection, year: int) -> dict[str, Any]:
    return await get(conn, fiscal_year_id(year))


async def list_all(conn: AsyncConnection) -> list[dict[str, Any]]:
    rows = await conn.execute(text(f"SELECT {_COLS} FROM accounting_fiscal_years ORDER BY opened_as_of DESC"))
    return [dict(r._mapping) for r in rows]


async def _insert(conn: AsyncConnection, opened_as_of: dt.date) -> dict[str, Any]:
    year = opened_as_of.year
    await conn.execute(text(
        "INSERT INTO accounting_fiscal_years (id, year, reference, opened_as_of, closes_as_of)"
        " VALUES (:id, :y, :ref, :o, :c) ON CONFLICT DO NOTHING"),
        {"id": fiscal_year_id(year), "y": year, "ref": f"{chart.CHART_ID}:FY{year}", "o": opened_as_of,
         "c": fiscal.year_end(opened_as_of)})
    await _set_journal(conn, open_until=fiscal.year_end(opened_as_of))
    return await get(conn, fiscal_year_id(year))


async def init_first(conn: AsyncConnection, opened_as_of: dt.date,
                     today: dt.date | None = None) -> tuple[dict[str, Any], bool]:
    """Open the first fiscal year (nothing can be posted before ``opened_as_of`` afterwards) and
    every following year through ``today``'s, so a bank whose books start in a past year can post
    today. If any year exists, return the latest unchanged. Returns (first year, created)."""
    await chart.ensure_chart(conn)
    await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": 0xAC0C4A7})
    existing = await list_all(conn)
    if existing:
        return existing[0], False
    fy = await _insert(conn, opened_as_of)
    await _set_journal(conn, closed_through=opened_as_of - dt.timedelta(days=1))
    for year in range(opened_as_of.year + 1, (today or opened_as_of).year + 1):
        await _insert(conn, dt.date(year, 1, 1))
    return fy, True


async def open_from_inception(conn: AsyncConnection, inception: dt.date, today: dt.date) -> list[int]:
    """Bootstrap: open the fiscal years from ``inception`` through today's (idempotent: a bank that
    already has a fiscal year is left as it is). Returns the years opened."""
    _fy, created = await init_first(conn, inception, today)
    return list(range(inception.year, today.year + 1)) if created else []


async def close_month(conn: AsyncConnection, fy_id: uuid.UUID, today: dt.date, now: dt.datetime) -> dict[str, Any]:
    fy = await get(conn, fy_id, for_update=True)
    month = fiscal.next_month_to_close(fy["opened_as_of"], fy["last_closed_month"])
    if month is None:
        raise AllMonthsClosed(f"Every month of FY{fy['year']} is closed.")
    if today <= month:
        raise MonthHasNotEnded(f"{month:%B %Y} has not ended (today is {today}).", month_end=str(month))
    closures = [*fy["month_closures"], {"month_closed_as_of": str(month), "month_closed_at": now.isoformat()}]
    await conn.execute(text(
        "UPDATE accounting_fiscal_years SET last_closed_month = :m, month_closures = CAST(:c AS jsonb) WHERE id = :id"),
        {"m": month, "c": json.dumps(closures), "id": fy_id})
    await _set_journal(conn, closed_through=month)
    return await get(conn, fy_id)


_PNL_BALANCES = text("""
WITH RECURSIVE tree(set_id) AS (
    SELECT account_set_id FROM accounting_chart_nodes WHERE chart_id = :chart AND code = ANY(:codes)
  UNION
    SELECT m.member_set_id FROM tree t JOIN ledger_set_members m ON m.set_id = t.set_id
     WHERE m.member_set_id IS NOT NULL
), accts AS (
    SELECT DISTINCT m.member_account_id AS id FROM tree t JOIN ledger_set_members m ON m.set_id = t.set_id
     WHERE m.member_account_id IS NOT NULL
)
SELECT a.id AS account_id, a.normal_balance_type, e.currency,
       sum(CASE e.direction WHEN 'debit' THEN e.units ELSE -e.units END)::bigint AS dr_minus_cr
  FROM accts JOIN ledger_accounts a ON a.id = accts.id
  JOIN ledger_entries e ON e.account_id = a.id AND e.layer = 'settled' AND e.effective <= :until
 GROUP BY a.id, a.normal_balance_type, e.currency ORDER BY a.id, e.currency
""")


async def close_year(conn: AsyncConnection, fy_id: uuid.UUID, now: dt.datetime) -> dict[str, Any]:
    """Post the closing transaction (P&L balances → retained earnings) dated 31 December; idempotent."""
    fy = await get(conn, fy_id, for_update=True)
    if fy["closed_as_of"] is not None:
        return fy
    if fy["last_closed_month"] != fy["closes_as_of"]:
        raise LastMonthNotClosed(f"Close December {fy['year']} before closing the year.")
    base = await chart.base_config(conn)
    if base is None:
        raise BaseConfigNotFound("The chart has no base config: revenue and expense nodes are unknown.")
    codes = [base.codes[f"{c}_code"] for c in ("revenue", "cost_of_revenue", "expenses")]
    rows = await conn.execute(_PNL_BALANCES, {"chart": chart.CHART_ID, "codes": codes, "until": fy["closes_as_of"]})
    balances = [fiscal.PnlBalance(r.account_id, r.normal_balance_type, r.currency,
                                  r.dr_minus_cr if r.normal_balance_type == "debit" else -r.dr_minus_cr)
                for r in rows]
    name = f"NET_INCOME_{chart.CHART_ID}:FY{fy['year']}"
    net_account = uuid.uuid5(_NS, name)
    entries, net = fiscal.closing_entries(balances, net_account)
    tx_id = None
    if entries:
        gain = net.get("USD", sum(net.values())) >= 0
        node = await chart.get_node(conn, base.codes["equity_retained_earnings_gain_code" if gain
                                                      else "equity_retained_earnings_loss_code"])
        await ledger.create_account(conn, id=net_account, code=name, name=name, external_id=name,
                                    normal_balance="credit" if gain else "debit")
        await ledger.add_member(conn, node.account_set_id, net_account)
        tx = await ledger.post(conn, "YEAR_END_CLOSING", {
            "entries": [{"account_id": str(e.account_id), "units": e.units, "currency": str(e.currency),
                         "direction": str(e.direction)} for e in entries],
            "description": fy["reference"]}, idempotency_key=f"fiscal-year:{fy['year']}:close",
            effective=fy["closes_as_of"])
        tx_id = tx.id
    await conn.execute(text(
        "UPDATE accounting_fiscal_years SET closed_as_of = closes_as_of, closed_at = :t, closing_tx_id = :tx"
        " WHERE id = :id"), {"t": now, "tx": tx_id, "id": fy_id})
    return await get(conn, fy_id)


async def open_next(conn: AsyncConnection, fy_id: uuid.UUID, today: dt.date) -> tuple[dict[str, Any], bool]:
    fy = await get(conn, fy_id, for_update=True)
    start = fy["closes_as_of"] + dt.timedelta(days=1)
    if start.year > today.year + 1:
        raise FiscalYearWithInvalidOpenedAsOf(f"FY{start.year} cannot be opened before {start.year - 1}.")
    nxt = (await conn.execute(text("SELECT id FROM accounting_fiscal_years WHERE year = :y"), {"y": start.year})).first()
    if nxt is not None:
        return await get(conn, nxt.id), False
    return await _insert(conn, start), True


