"""The chart of accounts: one chart whose nodes are ledger account sets (accounting.md §1–3).

Each node's set has external id ``"{chart_id}.{code}"`` and the node's normal balance; a child's
set is a member of its parent's set and top-level sets are members of the chart's root set, so every
node's balance rolls up its subtree (read-time roll-up, docs/ledger.md). Writes to the chart take
one advisory lock, so concurrent imports and node additions serialise.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from activities import ledger
from domain.accounting.chart_csv import NodeSpec, export_chart_csv, parse_chart_csv
from domain.accounting.codes import Code, fmt, is_parent_of, parse_code, valid_name
from domain.accounting.config import BaseConfig, validate_base_config
from domain.accounting.errors import (
    BaseConfigAlreadySet,
    ChartNodeNotFound,
    InvalidParent,
    ParentAccountNotFound,
)
from domain.errors import Conflict, ValidationFailed

_NS = uuid.UUID("0d6f7c52-1b7e-4e8c-a0a6-3f0a1c5e9b21")
CHART_REFERENCE = "primary-chart"
CHART_ID = uuid.uuid5(_NS, f"chart:{CHART_REFERENCE}")
ROOT_SET_ID = uuid.uuid5(_NS, f"chart-root:{CHART_REFERENCE}")
_CHART_LOCK = 0xAC0C4A7


def node_set_id(code: Code) -> uuid.UUID:
    return uuid.uuid5(_NS, f"chart-node:{fmt(code)}")


@dataclass(frozen=True)
class Node:
    code: Code
    name: str
    parent: Code | None
    normal_balance: str
    account_set_id: uuid.UUID
    manual_account_id: uuid.UUID | None = None

    @property
    def code_str(self) -> str:
        return fmt(self.code)

    def spec(self) -> NodeSpec:
        return NodeSpec(self.code, self.name, self.parent, self.normal_balance)


async def ensure_chart(conn: AsyncConnection) -> None:
    """Create the primary chart and its root set (idempotent)."""
    if (await conn.execute(text("SELECT 1 FROM accounting_charts WHERE id = :id"), {"id": CHART_ID})).first():
        return
    await ledger.create_account_set(conn, id=ROOT_SET_ID, name="Chart of Accounts", normal_balance="debit",
                                    external_id=str(CHART_ID))
    await conn.execute(text(
        "INSERT INTO accounting_charts (id, reference, name, account_set_id) VALUES (:id, :ref, :name, :set)"
        " ON CONFLICT DO NOTHING"),
        {"id": CHART_ID, "ref": CHART_REFERENCE, "name": "Chart of Accounts", "set": ROOT_SET_ID})


async def _lock(conn: AsyncConnection) -> None:
    await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CHART_LOCK})


async def nodes(conn: AsyncConnection) -> dict[Code, Node]:
    rows = await conn.execute(text(
        "SELECT sections, name, parent_code, normal_balance, account_set_id, manual_account_id"
        " FROM accounting_chart_nodes WHERE chart_id = :c"), {"c": CHART_ID})
    out = {}
    for r in rows:
        code = tuple(r.sections)
        out[code] = Node(code, r.name, parse_code(r.parent_code) if r.parent_code else None, r.normal_balance,
                         r.account_set_id, r.manual_account_id)
    return out


async def get_node(conn: AsyncConnection, code: str) -> Node:
    parsed = parse_code(code)
    found = (await nodes(conn)).get(parsed)
    if found is None:
        raise ChartNodeNotFound(f"No chart node {fmt(parsed)}.")
    return found


async def _create_node(conn: AsyncConnection, spec: NodeSpec) -> None:
    set_id = node_set_id(spec.code)
    await ledger.create_account_set(conn, id=set_id, name=spec.name, normal_balance=spec.normal_balance,
                                    external_id=f"{CHART_ID}.{spec.code_str}", metadata={"chart_code": spec.code_str})
    await conn.execute(text(
        "INSERT INTO accounting_chart_nodes (chart_id, code, sections, name, parent_code, normal_balance,"
        " account_set_id) VALUES (:c, :code, :sections, :name, :parent, :side, :set)"),
        {"c": CHART_ID, "code": spec.code_str, "sections": list(spec.code), "name": spec.name,
         "parent": fmt(spec.parent) if spec.parent else None, "side": spec.normal_balance, "set": set_id})


async def _link(conn: AsyncConnection, spec: NodeSpec) -> None:
    parent_set = node_set_id(spec.parent) if spec.parent else ROOT_SET_ID
    await ledger.add_member(conn, parent_set, node_set_id(spec.code))


async def import_csv(conn: AsyncConnection, csv_text: str) -> list[str]:
    """Validate the whole file, then create every new node (existing codes are skipped). Returns the
    codes created. Any error raises before anything is written (the caller's transaction)."""
    await ensure_chart(conn)
    await _lock(conn)
    existing = await nodes(conn)
    specs = parse_chart_csv(csv_text, {c: n.normal_balance for c, n in existing.items()})
    new = [s for s in specs if s.code not in existing]
    for s in new:
        await _create_node(conn, s)
    for s in new:
        await _link(conn, s)
    return [s.code_str for s in new]


async def add_child_node(conn: AsyncConnection, parent_code: str, code: str, name: str) -> Node:
    """Add ``code`` under ``parent_code`` (idempotent for the same code, parent and name)."""
    await ensure_chart(conn)
    await _lock(conn)
    parent, child, name = parse_code(parent_code), parse_code(code), name.strip()
    if not valid_name(name):
        raise ValidationFailed("Node name must be non-empty and must not start with a digit.",
                               code="accounting.invalid_node_name")
    existing = await nodes(conn)
    if parent not in existing:
        raise ParentAccountNotFound(f"No chart node {fmt(parent)}.")
    if not is_parent_of(parent, child):
        raise InvalidParent(f"{fmt(child)} is not a descendant code of {fmt(parent)}.")
    if child in existing:
        node = existing[child]
        if node.parent != parent or node.name != name:
            raise Conflict(f"Chart node {fmt(child)} exists with another parent or name.",
                           code="accounting.duplicate_account_code")
        return node
    closer = [c for c in existing if is_parent_of(parent, c) and is_parent_of(c, child)]
    if closer:
        raise InvalidParent(f"{fmt(child)} belongs under {fmt(max(closer, key=len))}, a nearer ancestor.")
    spec = NodeSpec(child, name, parent, existing[parent].normal_balance)
    await _create_node(conn, spec)
    await _link(conn, spec)
    return Node(child, name, parent, spec.normal_balance, node_set_id(child))


async def export_csv(conn: AsyncConnection) -> str:
    return export_chart_csv([n.spec() for n in (await nodes(conn)).values()])


async def base_config(conn: AsyncConnection) -> BaseConfig | None:
    row = (await conn.execute(text("SELECT base_config FROM accounting_charts WHERE id = :id"),
                              {"id": CHART_ID})).first()
    return BaseConfig(row.base_config) if row and row.base_config else None


async def set_base_config(conn: AsyncConnection, raw: dict[str, Any]) -> BaseConfig:
    """Set once; the same config again is a no-op, a different one is refused (409)."""
    await ensure_chart(conn)
    await _lock(conn)
    cfg = validate_base_config(raw, {c: n.parent for c, n in (await nodes(conn)).items()})
    current = await base_config(conn)
    if current is not None:
        if current.as_dict() != cfg.as_dict():
            raise BaseConfigAlreadySet("The chart's base config is already set to a different value.")
        return current
    await conn.execute(text("UPDATE accounting_charts SET base_config = CAST(:b AS jsonb) WHERE id = :id"),
                       {"b": json.dumps(cfg.as_dict()), "id": CHART_ID})
    return cfg
