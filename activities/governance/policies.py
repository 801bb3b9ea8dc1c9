"""Approval policies: one per process type; rules are auto-approve or a committee + threshold."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from activities import event_store
from activities.governance import committees
from domain.governance.errors import AutoApproveNotAllowed, PolicyNotFound
from domain.governance.rules import AutoApprove, CommitteeRule, validate_threshold

ENTITY = "policy"


async def get(conn: AsyncConnection, policy_id: str) -> dict:
    row = (await conn.execute(
        text("SELECT id::text, process_type, rules, created_at FROM gov_policies WHERE id = :id"),
        {"id": policy_id})).mappings().first()
    if row is None:
        raise PolicyNotFound(f"policy {policy_id} not found")
    return dict(row)


async def page(conn: AsyncConnection, first: int, after: tuple[str] | None) -> list[dict]:
    """Up to ``first + 1`` policies by process type (unique), after the key ``(process_type,)``."""
    rows = await conn.execute(text(
        "SELECT id::text, process_type, rules, created_at FROM gov_policies"
        " WHERE CAST(:a AS text) IS NULL OR process_type > :a ORDER BY process_type LIMIT :n"),
        {"a": after[0] if after else None, "n": first + 1})
    return [dict(r) for r in rows.mappings()]


async def set_rules(conn: AsyncConnection, policy_id: str, rules: AutoApprove | CommitteeRule,
                    *, allow_auto_approval: bool = True) -> dict:
    row = (await conn.execute(text("SELECT rules FROM gov_policies WHERE id = :id FOR UPDATE"),
                              {"id": policy_id})).first()
    if row is None:
        raise PolicyNotFound(f"policy {policy_id} not found")
    if isinstance(rules, AutoApprove) and not allow_auto_approval:
        raise AutoApproveNotAllowed("auto-approval is disabled by configuration")
    if isinstance(rules, CommitteeRule):
        await committees.get(conn, rules.committee_id)  # raises when missing
        validate_threshold(rules.threshold, len(await committees.members(conn, rules.committee_id)))
    new = rules.model_dump()
    if row.rules != new:
        version = int(await conn.scalar(
            text("SELECT max(sequence) FROM events WHERE entity_type = :t AND entity_id = :id"),
            {"t": ENTITY, "id": policy_id}) or 0)
        await event_store.append(conn, ENTITY, policy_id, version, [("RulesUpdated", {"rules": new})])
        await conn.execute(text("UPDATE gov_policies SET rules = CAST(:r AS jsonb) WHERE id = :id"),
                           {"r": rules.model_dump_json(), "id": policy_id})
    return await get(conn, policy_id)
