"""Module configs: which chart node each product set hangs under (accounting.md §4).

A module config (deposit, credit) is set once; it is stored as given and translated into placement
rules (product-set key or LIKE pattern → chart code). Applying it attaches every existing product
set to its node; ``placement.product_set`` calls :func:`attach_product_set` so a product set created
later is attached on first use. Business code asks :func:`node_for_product` ("where does this account
go") and never names chart codes.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from activities import ledger
from activities.accounting import chart
from domain.accounting.config import placement_rules
from domain.accounting.errors import BaseConfigNotFound, ModuleConfigAlreadySet

_BEST_RULE = (
    "SELECT r.code, n.account_set_id, EXISTS (SELECT 1 FROM ledger_set_members m"
    " WHERE m.set_id = n.account_set_id AND m.member_id = :ps) AS attached"
    " FROM accounting_placement_rules r JOIN accounting_chart_nodes n ON n.code = r.code"
    " WHERE :key LIKE r.key_pattern ORDER BY length(r.key_pattern) DESC, r.key_pattern LIMIT 1"
)


async def node_for_product(conn: AsyncConnection, key: str) -> str | None:
    """The chart code a product set with this key goes under (None until configured)."""
    row = (await conn.execute(text(_BEST_RULE), {"key": key, "ps": uuid.UUID(int=0)})).first()
    return row.code if row else None


_PRODUCT_SET_PLACED = text(
    "SELECT s.name, s.normal_balance_type, r.code IS NULL OR r.attached AS placed FROM ledger_account_sets s"
    f" LEFT JOIN LATERAL ({_BEST_RULE}) r ON true WHERE s.id = :ps"
)


async def product_set_placed(conn: AsyncConnection, set_id: uuid.UUID, key: str) -> tuple[str, str, bool] | None:
    """One query: the stored product set's (name, normal side, placed) or None when it does not
    exist yet; placed = attached to its configured node, or no rule covers its key yet."""
    row = (await conn.execute(_PRODUCT_SET_PLACED, {"key": key, "ps": set_id})).first()
    return None if row is None else (row.name, row.normal_balance_type, row.placed)


async def attach_product_set(conn: AsyncConnection, set_id: uuid.UUID, key: str) -> str | None:
    """Make the product set a member of its configured chart node (one query when already done)."""
    row = (await conn.execute(text(_BEST_RULE), {"key": key, "ps": set_id})).first()
    if row is None:
        return None
    if not row.attached:
        await ledger.add_member(conn, row.account_set_id, set_id)
    return row.code


async def attach_all(conn: AsyncConnection) -> int:
    """Attach every existing product set that a rule now covers; returns how many were attached."""
    rows = (await conn.execute(text(
        "SELECT id, metadata->>'product_key' AS key FROM ledger_account_sets"
        " WHERE external_id LIKE 'product:%' ORDER BY id"))).all()
    n = 0
    for r in rows:
        before = (await conn.execute(text("SELECT count(*) FROM ledger_set_members WHERE member_id = :m"),
                                     {"m": r.id})).scalar_one()
        if await attach_product_set(conn, r.id, r.key) is not None:
            after = (await conn.execute(text("SELECT count(*) FROM ledger_set_members WHERE member_id = :m"),
                                        {"m": r.id})).scalar_one()
            n += after > before
    return n


async def get_module_config(conn: AsyncConnection, module: str) -> dict[str, Any] | None:
    row = (await conn.execute(text("SELECT config FROM accounting_module_configs WHERE module = :m"),
                              {"m": module})).first()
    return row.config if row else None


async def set_module_config(conn: AsyncConnection, module: str, raw: dict[str, Any]) -> dict[str, Any]:
    """Validate, store (once: the same config again is a no-op, another → 409) and apply."""
    await chart.ensure_chart(conn)
    await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": 0xAC0C4A7})
    base = await chart.base_config(conn)
    if base is None:
        raise BaseConfigNotFound("Set the chart's base config before module configs.")
    rules = placement_rules(module, raw, base, await chart.nodes(conn))
    current = await get_module_config(conn, module)
    if current is not None:
        if current != raw:
            raise ModuleConfigAlreadySet(f"The {module} module config is already set.")
        return current
    await conn.execute(text("INSERT INTO accounting_module_configs (module, config) VALUES (:m, CAST(:c AS jsonb))"),
                       {"m": module, "c": json.dumps(raw)})
    for pattern, code in rules.items():
        await conn.execute(text(
            "INSERT INTO accounting_placement_rules (key_pattern, code, module) VALUES (:p, :c, :m)"),
            {"p": pattern, "c": code, "m": module})
    await attach_all(conn)
    return raw
