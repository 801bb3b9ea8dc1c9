"""Fiscal-year rules (accounting.md §7): month sequence, year end, closing entries (pure)."""

from __future__ import annotations

import calendar
import datetime as dt
import uuid
from dataclasses import dataclass

from domain.ledger.model import Currency, Direction, Entry, Layer


def month_end(d: dt.date) -> dt.date:
    return d.replace(day=calendar.monthrange(d.year, d.month)[1])


def first_open_date(today: dt.date, closed_through: dt.date | None) -> dt.date:
    """The date a posting dated ``today`` takes: today, or the day after the last closed period."""
    if closed_through is None or today > closed_through:
        return today
    return closed_through + dt.timedelta(days=1)


def year_end(opened_as_of: dt.date) -> dt.date:
    return dt.date(opened_as_of.year, 12, 31)


def next_month_to_close(opened_as_of: dt.date, last_closed: dt.date | None) -> dt.date | None:
    """The first close is the opening month; then strictly sequential; None once December is closed."""
    if last_closed is None:
        return month_end(opened_as_of)
    if last_closed.month == 12:
        return None
    return month_end(last_closed + dt.timedelta(days=1))


@dataclass(frozen=True)
class PnlBalance:
    account_id: uuid.UUID
    normal_balance: str
    currency: str
    balance: int  # signed by the account's own normal balance


def closing_entries(balances: list[PnlBalance], net_income_account: uuid.UUID) -> tuple[list[Entry], dict[str, int]]:
    """Offset every non-zero P&L balance and book the net per currency on the net-income account.
    Returns (entries, net per currency): net > 0 credits the account (gain), net < 0 debits it."""
    entries: list[Entry] = []
    net: dict[str, int] = {}
    for b in balances:
        if b.balance == 0:
            continue
        normal = Direction(b.normal_balance)
        opposite = Direction.CREDIT if normal == Direction.DEBIT else Direction.DEBIT
        direction = opposite if b.balance > 0 else normal
        entries.append(Entry(b.account_id, abs(b.balance), Currency(b.currency), direction, Layer.SETTLED,
                             "CLOSING_" + ("DR" if direction == Direction.DEBIT else "CR")))
        signed = b.balance if normal == Direction.CREDIT else -b.balance
        net[b.currency] = net.get(b.currency, 0) + signed
    for currency, amount in sorted(net.items()):
        if amount:
            direction = Direction.CREDIT if amount > 0 else Direction.DEBIT
            entries.append(Entry(net_income_account, abs(amount), Currency(currency), direction, Layer.SETTLED,
                                 "CLOSING_NET_INCOME_" + ("CR" if amount > 0 else "DR")))
    return entries, net
