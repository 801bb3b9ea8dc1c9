"""Balances and history of a deposit account, read from the ledger (customers-deposits.md §10).

Figures (USD cents):

* ``settled``   — the customer's booked funds: main account settled + pending (withdrawals not yet
  paid out are still the customer's money) + the frozen twin (funds parked by a freeze);
* ``pending``   — withdrawals reserved and not yet confirmed, cancelled or denied;
* ``available`` — what can be withdrawn now: the main account's settled layer (initiating a
  withdrawal moves its amount from settled to pending at once); 0 while frozen;
* ``frozen``    — the frozen twin's balance.

lana names the main account's settled layer "settled" (= available) and has no separate total.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from activities import ledger
from domain.deposits.model import DepositAccount


async def account_balance(conn: AsyncConnection, account: DepositAccount) -> dict[str, int]:
    main, frozen = await ledger.current_balances(
        conn, [(uuid.UUID(account.id), "USD"), (uuid.UUID(account.frozen_account_id), "USD")])
    return {"settled": main.settled + main.pending + frozen.settled, "pending": main.pending,
            "available": main.settled, "frozen": frozen.settled}


async def history(conn: AsyncConnection, account_id: str, first: int,
                  after: tuple[dt.datetime, uuid.UUID, int] | None) -> list[dict[str, Any]]:
    """Ledger entries on the main account, newest first (frozen-twin moves are FREEZE_/UNFREEZE_)."""
    return await ledger.entries(conn, uuid.UUID(account_id), first=first, after=after)
