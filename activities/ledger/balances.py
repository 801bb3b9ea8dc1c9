"""Balance reads: current, as of an instant, and over an effective-date range.

Balances are kept in stripes (docs/ledger.md, "Hot accounts"): a control-free account may have up
to 16 rows per currency in ``ledger_current_balances``, each with its own history. Every read sums
the stripes; a reader never sees one. ``version`` is the number of updates of that (account,
currency): the sum over stripes of ``version - stripe * 10^12`` (each stripe numbers its versions in
its own range, so versions stay unique per account in the history).

Which timestamp drives which read:

* ``as_of`` (an instant) uses ``recorded_at``: the server time taken by ``ledger_post`` once it
  holds the balance locks, so it increases with the version of every stripe. The as-of balance is
  the sum, over the stripes, of each stripe's last ``ledger_balance_history`` row with
  ``recorded_at <= as_of`` (one index probe per stripe); it reproduces exactly what a current read
  returned at that instant. Stripes added after the instant have no such row and count zero.
* ``range_balances(from, until)`` uses ``effective`` (the business DATE, may be back-dated): opening
  = all entries with ``effective < from``, closing = ``effective <= until``, period debits/credits =
  closing − opening; summed from entries through an index-only scan, so back-dating stays exact.

Account sets are rolled up at read time: the transitive member accounts (recursive CTE over direct
edges, each account counted once even when reachable by several paths) are summed, for current,
as-of and range reads alike, signed by the set's own normal side. Posting never touches set rows, so
a chart node shared by thousands of accounts is never a lock hot spot, and set as-of reads are exact
by construction.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from activities.ledger.accounts import get_account, get_account_set
from domain.ledger.errors import AccountNotFound
from domain.ledger.model import Balance, Currency, LayerAmounts, NormalSide

_COLS = "settled_dr, settled_cr, pending_dr, pending_cr, encumbrance_dr, encumbrance_cr"
STRIPE_BASE = 10**12  # migration 0040: stripe s numbers its versions from s * 10^12


def _sums(alias: str, version: bool = True) -> str:
    sums = ", ".join(f"sum({alias}.{c})::bigint AS {c}" for c in _COLS.split(", "))
    if not version:  # a set has no version of its own
        return sums
    return f"{sums}, sum({alias}.version - {alias}.stripe::bigint * {STRIPE_BASE})::bigint AS version"


_SET_ACCOUNTS = (
    "WITH RECURSIVE tree(id) AS (SELECT CAST(:root AS uuid) UNION SELECT m.member_set_id"
    " FROM ledger_set_members m JOIN tree t ON m.set_id = t.id WHERE m.member_set_id IS NOT NULL),"
    " accts AS (SELECT DISTINCT m.member_account_id AS account_id FROM ledger_set_members m"
    " JOIN tree t ON m.set_id = t.id WHERE m.member_account_id IS NOT NULL)"
)


def _asof(version: bool) -> str:
    """Sum, per currency, of each stripe's last history row at or before :t over the accounts in
    ``accts`` (ties, which only a batch call produces, broken by the version)."""
    return (f"SELECT s.currency, {_sums('h', version)} FROM accts"
            " JOIN ledger_current_balances s ON s.account_id = accts.account_id"
            f" CROSS JOIN LATERAL (SELECT {_COLS}, h.stripe, h.version FROM ledger_balance_history h"
            " WHERE h.account_id = s.account_id AND h.currency = s.currency AND h.stripe = s.stripe"
            " AND h.recorded_at <= :t ORDER BY h.recorded_at DESC, h.version DESC LIMIT 1) h"
            " GROUP BY s.currency")


# The hot reads, built once (text() scans its SQL for bind names at every construction).
_CURRENT_ONE = text(f"SELECT b.currency, {_sums('b')} FROM ledger_current_balances b WHERE b.account_id = :id"
                    " GROUP BY b.currency")
_ASOF_ONE = text("WITH accts AS (SELECT CAST(:id AS uuid) AS account_id) " + _asof(True))
_CURRENT_MANY = text(
    f"SELECT a.id AS account_id, a.normal_balance_type AS side, b.currency, {_sums('b')}"
    " FROM ledger_accounts a LEFT JOIN ledger_current_balances b ON b.account_id = a.id"
    " WHERE a.id = ANY(:ids) GROUP BY a.id, a.normal_balance_type, b.currency")


def _to_balances(rows, side: str) -> dict[str, Balance]:
    out = {str(c): Balance(c, NormalSide(side)) for c in Currency}
    for r in rows:
        m = r._mapping
        if m["settled_dr"] is not None:
            out[m["currency"]] = Balance.from_row(m["currency"], side, m, int(m.get("version") or 0))
    return out


async def account_balances(conn: AsyncConnection, account_id: uuid.UUID,
                           as_of: dt.datetime | None = None) -> dict[str, Balance]:
    """Every currency's balance of an account (zeros where nothing was posted)."""
    side = (await get_account(conn, account_id))["normal_balance_type"]
    if as_of is None:
        rows = await conn.execute(_CURRENT_ONE, {"id": account_id})
    else:
        rows = await conn.execute(_ASOF_ONE, {"id": account_id, "t": as_of})
    return _to_balances(rows, side)


async def balance(conn: AsyncConnection, account_id: uuid.UUID, currency: str,
                  as_of: dt.datetime | None = None) -> Balance:
    """One currency's balance of an account; the current one in one statement (``current_balances``)."""
    if as_of is None:
        return (await current_balances(conn, [(account_id, currency)]))[0]
    return (await account_balances(conn, account_id, as_of))[str(Currency(currency))]


async def current_balances(conn: AsyncConnection, wanted: Sequence[tuple[uuid.UUID, str]]) -> list[Balance]:
    """The current balances of many (account, currency) pairs in one statement, in ``wanted``'s
    order: what ``balance`` answers for each, without two round trips per account."""
    wanted = [(a if isinstance(a, uuid.UUID) else uuid.UUID(str(a)), c) for a, c in wanted]  # str ids too
    ids = list(dict.fromkeys(a for a, _ in wanted))
    rows = (await conn.execute(_CURRENT_MANY, {"ids": ids})).all()
    sides = {r.account_id: r.side for r in rows}
    for account_id in ids:
        if account_id not in sides:
            raise AccountNotFound(f"No ledger account {account_id}.")
    found = {(r.account_id, r.currency): r for r in rows if r.currency is not None}
    out = []
    for account_id, currency in wanted:
        code = str(Currency(currency))
        r = found.get((account_id, code))
        out.append(Balance.from_row(code, sides[account_id], r._mapping, int(r.version or 0)) if r is not None
                   else Balance(Currency(code), NormalSide(sides[account_id])))
    return out


async def set_balances(conn: AsyncConnection, set_id: uuid.UUID,
                       as_of: dt.datetime | None = None) -> dict[str, Balance]:
    """An account set's balances: the roll-up of all its transitive member accounts."""
    side = (await get_account_set(conn, set_id))["normal_balance_type"]
    if as_of is None:
        sql = (f"{_SET_ACCOUNTS} SELECT b.currency, {_sums('b', False)} FROM ledger_current_balances b"
               " JOIN accts USING (account_id) GROUP BY b.currency")
    else:
        sql = f"{_SET_ACCOUNTS} {_asof(False)}"
    rows = await conn.execute(text(sql), {"root": set_id, "t": as_of})
    return _to_balances(rows, side)


@dataclass(frozen=True)
class RangeBalance:
    open: Balance
    close: Balance

    def period_debits(self, layer: str = "settled") -> int:
        return getattr(self.close, f"{layer}_amounts").dr - getattr(self.open, f"{layer}_amounts").dr

    def period_credits(self, layer: str = "settled") -> int:
        return getattr(self.close, f"{layer}_amounts").cr - getattr(self.open, f"{layer}_amounts").cr

    def as_dict(self) -> dict:
        return {"open": self.open.as_dict(), "close": self.close.as_dict(),
                "period": {layer: {"debits": self.period_debits(layer), "credits": self.period_credits(layer)}
                           for layer in ("settled", "pending", "encumbrance")}}


async def range_balances(conn: AsyncConnection, account_or_set_id: uuid.UUID, start: dt.date,
                         until: dt.date) -> dict[str, RangeBalance]:
    """Opening / period / closing by effective date, per currency (absent: no entry up to ``until``)."""
    try:
        side = (await get_account(conn, account_or_set_id))["normal_balance_type"]
        accts = "SELECT CAST(:root AS uuid) AS account_id"
        prefix = f"WITH accts AS ({accts})"
    except AccountNotFound:  # not an account: try a set (raises AccountSetNotFound)
        side = (await get_account_set(conn, account_or_set_id))["normal_balance_type"]
        prefix = _SET_ACCOUNTS
    rows = await conn.execute(text(
        f"{prefix} SELECT e.currency, e.layer, e.direction,"
        " coalesce(sum(e.units) FILTER (WHERE e.effective < :start), 0)::bigint AS open,"
        " sum(e.units)::bigint AS close FROM accts JOIN ledger_entries e ON e.account_id = accts.account_id"
        " WHERE e.effective <= :until GROUP BY 1, 2, 3"),
        {"root": account_or_set_id, "start": start, "until": until})
    acc: dict[str, dict[str, dict[str, int]]] = {}
    for r in rows:
        cur = acc.setdefault(r.currency, {"open": {}, "close": {}})
        key = f"{r.layer}_{'dr' if r.direction == 'debit' else 'cr'}"
        cur["open"][key], cur["close"][key] = int(r.open), int(r.close)
    out = {}
    for currency, parts in acc.items():
        def bal(d: dict[str, int], currency=currency) -> Balance:
            amounts = {layer: LayerAmounts(d.get(f"{layer}_dr", 0), d.get(f"{layer}_cr", 0))
                       for layer in ("settled", "pending", "encumbrance")}
            return Balance(Currency(currency), NormalSide(side), amounts["settled"], amounts["pending"],
                           amounts["encumbrance"])
        out[currency] = RangeBalance(bal(parts["open"]), bal(parts["close"]))
    return out


async def net_debits_as_of(conn: AsyncConnection, points: Sequence[tuple[uuid.UUID, dt.date]],
                           currency: str = "USD", layer: str = "settled") -> dict[tuple[uuid.UUID, dt.date], int]:
    """Debits − credits of each ``(account, date)``: every entry of ``layer`` effective on or before
    that date (back-dated entries included). One statement for many accounts (a batch step's
    page): an index-only range read per point, whatever the size of the entries table; an account
    without entries reads 0."""
    nets = await net_debits_at(conn, [a for a, _ in points], [d for _, d in points], currency, layer)
    return {(uuid.UUID(str(a)), d): n for (a, d), n in zip(points, nets, strict=True)}


async def net_debits_at(conn: AsyncConnection, accounts: Sequence[uuid.UUID | str], untils: Sequence[dt.date],
                        currency: str = "USD", layer: str = "settled") -> list[int]:
    """``net_debits_as_of`` of ``(accounts[i], untils[i])``, as a list in that order (ids may be
    strings: nothing is converted per point)."""
    if not accounts:
        return []
    rows = await conn.execute(text(
        "SELECT (SELECT coalesce(sum(CASE e.direction WHEN 'debit' THEN e.units ELSE -e.units END), 0)"
        " FROM ledger_entries e WHERE e.account_id = p.account_id AND e.currency = :currency"
        " AND e.effective <= p.until AND e.layer = :layer)::bigint AS net"
        " FROM unnest(CAST(:ids AS uuid[]), CAST(:untils AS date[])) WITH ORDINALITY AS p(account_id, until, i)"
        " ORDER BY p.i"),
        {"ids": list(accounts), "untils": list(untils), "currency": currency, "layer": layer})
    return [int(n) for (n,) in rows]
