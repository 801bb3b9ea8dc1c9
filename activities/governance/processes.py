"""Approval processes: events + read model. The database row lock serialises votes, so the
recorded outcome never depends on how concurrent votes were interleaved in the workflow."""

from __future__ import annotations

import json
from types import SimpleNamespace

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from activities import event_store
from activities.audit import record_system_actions
from activities.governance import committees
from domain.governance.errors import ApprovalProcessNotFound, PolicyNotFound
from domain.governance.voting import ApprovalState, ApprovalStatus, Vote, check_cancel, check_vote, conclusion
from domain.governance.voting import cancel as cancel_process

ENTITY = "approval_process"

_COLUMNS = "id::text AS process_id, process_type, target_ref, eligible, threshold, status, votes, ended_reason"


def _state(row) -> ApprovalState:
    return ApprovalState(
        process_id=row.process_id, process_type=row.process_type, target_ref=row.target_ref,
        eligible=row.eligible, threshold=row.threshold, status=row.status,
        votes=[Vote(**v) for v in row.votes], ended_reason=row.ended_reason,
    )


_LOAD = text(f"SELECT {_COLUMNS} FROM gov_approval_processes WHERE id = :id")
_LOAD_LOCKED = text(f"SELECT {_COLUMNS} FROM gov_approval_processes WHERE id = :id FOR UPDATE")
# start: the process already there (as JSON, or NULL) and the type's policy (NULLs without one)
_START_READ = text(
    f"SELECT (SELECT to_jsonb(x) FROM (SELECT {_COLUMNS} FROM gov_approval_processes WHERE id = :id) x) AS existing,"
    " p.id::text AS policy_id, p.rules FROM (SELECT 1) one LEFT JOIN gov_policies p ON p.process_type = :p")


async def load(conn: AsyncConnection, process_id: str, *, lock: bool = False) -> ApprovalState | None:
    row = (await conn.execute(_LOAD_LOCKED if lock else _LOAD, {"id": process_id})).first()
    return _state(row) if row else None


async def start(conn: AsyncConnection, process_id: str, process_type: str, target_ref: str) -> ApprovalState:
    """Create the process from a snapshot of its policy (idempotent by process id). The process
    already there and the policy are read in one statement, the audit entries written in one."""
    found = (await conn.execute(_START_READ, {"id": process_id, "p": process_type})).one()
    if found.existing is not None:
        return _state(SimpleNamespace(**found.existing))
    if found.policy_id is None:
        raise PolicyNotFound(f"no policy for process type {process_type}")
    policy_id, rules = found.policy_id, found.rules
    if rules["type"] == "committee":
        eligible = await committees.members(conn, rules["committee_id"])
        threshold = int(rules["threshold"])
        status = ApprovalStatus.IN_PROGRESS
    else:
        eligible, threshold, status = [], 0, ApprovalStatus.APPROVED
    events = [("ApprovalProcessInitialized", {
        "policy_id": policy_id, "process_type": process_type, "target_ref": target_ref,
        "rules": rules, "eligible": eligible, "threshold": threshold})]
    audited = [(f"governance/approval-process/{process_id}", "governance:approval-process:create",
                "system:governance", None)]
    if status != ApprovalStatus.IN_PROGRESS:
        events.append(("ApprovalProcessConcluded", {"status": status.value}))
        audited.append(_conclusion_entry(process_id))
    await record_system_actions(conn, audited)
    await event_store.append(conn, ENTITY, process_id, 0, events)
    await conn.execute(
        text("INSERT INTO gov_approval_processes (id, process_type, target_ref, policy_id, rules, eligible,"
             " threshold, status, concluded_at) VALUES (:id, :pt, :tr, :pol, CAST(:rules AS jsonb),"
             " CAST(:el AS jsonb), :th, :st, CASE WHEN :done THEN now() END)"),
        {"id": process_id, "pt": process_type, "tr": target_ref, "pol": policy_id,
         "rules": json.dumps(rules), "el": json.dumps(eligible), "th": threshold, "st": status.value,
         "done": status != ApprovalStatus.IN_PROGRESS},
    )
    return ApprovalState(process_id=process_id, process_type=process_type, target_ref=target_ref,
                         eligible=eligible, threshold=threshold, status=status)  # what was just written


async def record_vote(conn: AsyncConnection, process_id: str, vote: Vote) -> ApprovalState:
    """Record a vote once (a retried activity finds it already there) and conclude if due."""
    state = await load(conn, process_id, lock=True)
    if state is None:
        raise ApprovalProcessNotFound(f"approval process {process_id} not found")
    if state.voted(vote.voter_id):
        return state  # replay of an already recorded vote
    check_vote(state, vote.voter_id, vote.approve, vote.reason)
    state.votes.append(vote)
    state.status = conclusion(state)
    version = int(await conn.scalar(
        text("SELECT max(sequence) FROM events WHERE entity_type = :t AND entity_id = :id"),
        {"t": ENTITY, "id": process_id}))
    voted = ("ApprovalProcessApproved", {"approver_id": vote.voter_id}) if vote.approve else (
        "ApprovalProcessDenied", {"denier_id": vote.voter_id, "reason": vote.reason})
    events = [voted]
    if state.status != ApprovalStatus.IN_PROGRESS:
        events.append(("ApprovalProcessConcluded", {"status": state.status.value}))
        await _audit_conclusion(conn, process_id)
    await event_store.append(conn, ENTITY, process_id, version, events)
    await conn.execute(
        text("UPDATE gov_approval_processes SET votes = CAST(:v AS jsonb), status = :st,"
             " concluded_at = CASE WHEN :done THEN now() END WHERE id = :id"),
        {"v": json.dumps([v.model_dump(mode="json") for v in state.votes]), "st": state.status.value,
         "done": state.status != ApprovalStatus.IN_PROGRESS, "id": process_id},
    )
    return state


async def cancel(conn: AsyncConnection, process_id: str, reason: str) -> ApprovalState | None:
    """End an open process because its subject ended (idempotent; a concluded one is left as it is)."""
    state = await load(conn, process_id, lock=True)
    if state is None or not check_cancel(state):
        return state
    state = cancel_process(state, reason)
    version = int(await conn.scalar(
        text("SELECT max(sequence) FROM events WHERE entity_type = :t AND entity_id = :id"),
        {"t": ENTITY, "id": process_id}))
    await event_store.append(conn, ENTITY, process_id, version, [("ApprovalProcessCancelled", {"reason": reason})])
    await conn.execute(
        text("UPDATE gov_approval_processes SET status = :st, ended_reason = :r, concluded_at = now() WHERE id = :id"),
        {"st": state.status.value, "r": reason, "id": process_id})
    await _audit_conclusion(conn, process_id)
    return state


def _conclusion_entry(process_id: str) -> tuple[str, str, str, str]:
    return (f"governance/approval-process/{process_id}", "governance:approval-process:conclude",
            "system:governance", f"approval-{process_id}")


async def _audit_conclusion(conn: AsyncConnection, process_id: str) -> None:
    await record_system_actions(conn, [_conclusion_entry(process_id)])
