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


def _best_rule(key: str, ps: str) -> str:
    """The rule (longest pattern) placing product key ``key`` and whether set ``ps`` is attached
    under its node; ``key`` and ``ps`` are SQL expressions (parameters or columns)."""
    return (
        "SELECT r.code, n.account_set_id, EXISTS (SELECT 1 FROM ledger_set_members m"
        f" WHERE m.set_id = n.account_set_id AND m.member_id = {ps}) AS attached"
        " FROM accounting_placement_rules r JOIN accounting_chart_nodes n ON n.code = r.code"
        f" WHERE {key} LIKE r.key_pattern ORDER BY length(r.key_pattern) DESC, r.key_pattern LIMIT 1"
    )


_BEST_RULE = _best_rule(":key", ":ps")


async def node_for_product(conn: AsyncConnection, key: str) -> str | None:
    """The chart code a product set with this key goes under (None until configured)."""
    row = (await conn.execute(text(_BEST_RULE), {"key": key, "ps": uuid.UUID(int=0)})).first()
    return row.code if row else None


_PRODUCT_SETS_PLACED = text(
    "SELECT q.id, s.name, s.normal_balance_type, r.code IS NULL OR r.attached AS placed"
    " FROM unnest(CAST(:ids AS uuid[]), CAST(:keys AS text[])) AS q(id, key)"
    " JOIN ledger_account_sets s ON s.id = q.id"
    f" LEFT JOIN LATERAL ({_best_rule('q.key', 'q.id')}) r ON true"
)


async def product_sets_placed(conn: AsyncConnection, sets: dict[uuid.UUID, str]) -> dict[uuid.UUID, tuple[str, str, bool]]:
    """One query for product sets ``{set id: key}``: each stored one's (name, normal side, placed),
    placed = attached to its configured node, or no rule covers its key yet; absent = not created."""
    rows = await conn.execute(_PRODUCT_SETS_PLACED, {"ids": list(sets), "keys": list(sets.values())})
    return {row.id: (row.name, row.normal_balance_type, row.placed) for row in rows}


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
