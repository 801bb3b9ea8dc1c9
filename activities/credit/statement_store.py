"""Reads of a facility's statement (``domain/credit/statement.py``): keyset pages of its lines and
the balances at a position, straight from the ledger and the collateralization history.

A line's key is ``(effective, recorded_at, src, ref)``: a ledger transaction (``src`` 0, ``ref`` its
id after a 10-character rank: a payment, then its allocations by their ``seq``, then the rest,
since a payment and its allocations are posted in one ``ledger.post_many`` call and share one
``recorded_at``) or a collateralization state change (``src`` 1, ``ref`` its zero-padded ``seq``). A state
change carries no business date of its own (its row has the wall-clock ``recorded_at``), so it
takes the date and instant of the facility's ledger posting written in the same database
transaction (same ``xmin``: the collateral update, the interest posting, the payment that moved
it), else of the facility's last posting recorded before it (a price move), else its own
recorded date. Every query is bounded by the facility's accounts (indexed) and a page size.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.credit.statement import ROLES, Balances, Line, Movement, kind_of


@dataclass(frozen=True)
class Accounts:
    """The statement's accounts of one facility: role by account id, and each one's normal side."""

    facility_id: str
    role_of: dict[uuid.UUID, str]
    normal_of: dict[uuid.UUID, str]

    @property
    def ids(self) -> list[uuid.UUID]:
        return list(self.role_of)


Key = tuple[date, datetime, int, str]


async def accounts_of(conn: AsyncConnection, facility_id: str, accounts: dict[str, str]) -> Accounts:
    role_of = {uuid.UUID(accounts[r]): r for r in ROLES if accounts.get(r)}
    rows = (await conn.execute(text("SELECT id, normal_balance_type FROM ledger_accounts WHERE id = ANY(:a)"),
                               {"a": list(role_of)})).all() if role_of else []
    return Accounts(facility_id, role_of, {r.id: r.normal_balance_type for r in rows})


# the payment first, then its allocations in allocation order (one ledger call: one recorded_at)
_REF = ("(CASE WHEN t.template_code = 'RECORD_PAYMENT' THEN '0000000000'"
        " WHEN pa.seq IS NOT NULL THEN '1' || lpad(pa.seq::text, 9, '0') ELSE '2000000000' END)"
        " || e.transaction_id::text")
_JOINS = (" JOIN ledger_transactions t ON t.id = e.transaction_id"
          " LEFT JOIN credit_payment_allocations pa ON pa.id = e.transaction_id")

_LINES = """
WITH lines AS (
    SELECT DISTINCT e.effective, e.recorded_at, 0 AS src, {ref} AS ref
      FROM ledger_entries e {joins}
     WHERE e.account_id = ANY(:a) AND e.effective BETWEEN :f AND :u
    UNION ALL
    SELECT COALESCE(x.effective, CAST(h.recorded_at AS date)), COALESCE(x.recorded_at, h.recorded_at), 1,
           lpad(h.seq::text, 20, '0')
      FROM credit_collateralization_history h
      LEFT JOIN LATERAL (
            SELECT e.effective, e.recorded_at FROM ledger_entries e
             WHERE e.account_id = ANY(:a) AND (e.xmin = h.xmin OR e.recorded_at <= h.recorded_at)
             ORDER BY (e.xmin = h.xmin) DESC, e.recorded_at DESC LIMIT 1) x ON true
     WHERE h.facility_id = :fid
)
SELECT effective, recorded_at, src, ref FROM lines
 WHERE effective BETWEEN :f AND :u {after}
 ORDER BY effective, recorded_at, src, ref
 LIMIT :n
"""


async def page_keys(conn: AsyncConnection, acc: Accounts, start: date, until: date, after: Key | None,
                    limit: int) -> list[Key]:
    args = {"a": acc.ids, "fid": uuid.UUID(acc.facility_id), "f": start, "u": until, "n": limit}
    cond = ""
    if after is not None:
        cond = "AND (effective, recorded_at, src, ref) > (:ae, :ar, :asrc, :aref)"
        args.update(ae=after[0], ar=after[1], asrc=after[2], aref=after[3])
    rows = await conn.execute(text(_LINES.format(after=cond, ref=_REF, joins=_JOINS)), args)
    return [(r.effective, r.recorded_at, r.src, r.ref) for r in rows]


async def lines_of(conn: AsyncConnection, acc: Accounts, keys: list[Key]) -> list[Line]:
    """The lines of ``keys`` (in their order), with their movements or their state change."""
    txs = [uuid.UUID(k[3][-36:]) for k in keys if k[2] == 0]
    seqs = [int(k[3]) for k in keys if k[2] == 1]
    moves: dict[str, list[Movement]] = {}
    codes: dict[str, str] = {}
    if txs:
        for r in await conn.execute(text(
                "SELECT e.transaction_id::text AS tx, e.account_id, e.layer, e.direction, e.units, t.template_code"
                " FROM ledger_entries e JOIN ledger_transactions t ON t.id = e.transaction_id"
                " WHERE e.transaction_id = ANY(:t) AND e.account_id = ANY(:a)"
                " ORDER BY e.transaction_id, e.sequence"), {"t": txs, "a": acc.ids}):
            codes[r.tx] = r.template_code
            moves.setdefault(r.tx, []).append(Movement(acc.role_of[r.account_id], r.layer, r.direction,
                                                       acc.normal_of[r.account_id], r.units))
    states = {}
    if seqs:
        states = {r.seq: r for r in await conn.execute(text(
            "SELECT seq, stage, state, cvl, price_cents, outstanding_cents, collateral_sats, reason"
            " FROM credit_collateralization_history WHERE facility_id = :fid AND seq = ANY(:s)"),
            {"fid": uuid.UUID(acc.facility_id), "s": seqs})}
    out = []
    for eff, rec, src, ref in keys:
        if src == 0:
            tx = ref[-36:]
            out.append(Line(eff, rec, kind_of(codes[tx]), ref, codes[tx], tuple(moves[tx])))
        else:
            h = states[int(ref)]
            out.append(Line(eff, rec, "collateralization_changed", ref, detail={
                "state": h.state, "cvl": h.cvl, "price_cents": h.price_cents, "reason": h.reason,
                "cvl_outstanding_cents": h.outstanding_cents}))
    return out


async def balances_where(conn: AsyncConnection, acc: Accounts, cond: str, args: dict, *,
                         join: bool = False) -> Balances:
    if not acc.ids:
        return Balances()
    tx = _JOINS if join else ""
    rows = await conn.execute(text(
        f"SELECT e.account_id, e.layer, e.direction, sum(e.units) AS units FROM ledger_entries e{tx}"
        f" WHERE e.account_id = ANY(:a) AND {cond} GROUP BY 1, 2, 3"), {"a": acc.ids, **args})
    return Balances().moved(Movement(acc.role_of[r.account_id], r.layer, r.direction, acc.normal_of[r.account_id],
                                     int(r.units)) for r in rows)


async def balances_before(conn: AsyncConnection, acc: Accounts, day: date) -> Balances:
    """Everything effective before ``day`` (a statement's opening)."""
    return await balances_where(conn, acc, "e.effective < :d", {"d": day})


async def balances_through(conn: AsyncConnection, acc: Accounts, day: date) -> Balances:
    """Everything effective on or before ``day`` (a statement's closing)."""
    return await balances_where(conn, acc, "e.effective <= :d", {"d": day})


async def balances_after_key(conn: AsyncConnection, acc: Accounts, key: Key) -> Balances:
    """The running balances after the line ``key`` (where the next page starts)."""
    return await balances_where(
        conn, acc, f"(e.effective, e.recorded_at, 0, {_REF}) <= (:ke, :kr, :ks, :kref)",
        {"ke": key[0], "kr": key[1], "ks": key[2], "kref": key[3]}, join=True)
