"""Temporal activities of governance (each one PostgreSQL transaction, idempotent)."""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.boundary import lana_activity
from activities.governance import processes
from domain.governance.voting import ApprovalState, Vote


class StartApproval(BaseModel):
    process_id: str
    process_type: str
    target_ref: str


class RecordVote(BaseModel):
    process_id: str
    vote: Vote


class GovernanceActivities:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @lana_activity("governance.start_approval_process")
    async def start_approval_process(self, inp: StartApproval) -> ApprovalState:
        async with self.engine.begin() as conn:
            return await processes.start(conn, inp.process_id, inp.process_type, inp.target_ref)

    @lana_activity("governance.record_vote")
    async def record_vote(self, inp: RecordVote) -> ApprovalState:
        async with self.engine.begin() as conn:
            return await processes.record_vote(conn, inp.process_id, inp.vote)
