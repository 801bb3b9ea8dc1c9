"""Ledger templates of the accounting module: manual transactions and the year-end closing.

Listed in ``TEMPLATES``; ``domain/ledger/catalogue.py`` registers them.
"""

from __future__ import annotations

import uuid

from domain.ledger.model import Currency, Direction, Entry, Layer, TxSpec
from domain.ledger.templates import Param, template


def _entries(raw: list, entry_type: str) -> tuple[Entry, ...]:
    out = []
    for e in raw:
        d = Direction(e["direction"])
        out.append(Entry(uuid.UUID(str(e["account_id"])), int(e["units"]), Currency(e["currency"]), d,
                         Layer(e.get("layer", "settled")),
                         f"{entry_type}_{'DR' if d == Direction.DEBIT else 'CR'}"))
    return tuple(out)


@template("MANUAL_TRANSACTION", {"entries": Param("json"), "description": Param("string"),
                                 "reference": Param("string")},
          description="Manual journal entry")
def manual_transaction(p):
    return TxSpec(_entries(p["entries"], "MANUAL"), description=p["description"],
                  metadata={"reference": p["reference"],
                            "entry_descriptions": [e.get("description") for e in p["entries"]]},
                  external_id=f"manual:{p['reference']}")


@template("YEAR_END_CLOSING", {"entries": Param("json"), "description": Param("string")},
          description="Year-end closing: P&L balances to retained earnings")
def year_end_closing(p):
    return TxSpec(_entries(p["entries"], "CLOSING"), description=p["description"],
                  metadata={"is_closing_tx": True})


TEMPLATES = [manual_transaction, year_end_closing]
