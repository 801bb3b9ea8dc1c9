"""Temporal activities of governance (each one PostgreSQL transaction, idempotent)."""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.governance import processes
from domain.errors import LanaError
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

    @activity.defn(name="governance.start_approval_process")
    async def start_approval_process(self, inp: StartApproval) -> ApprovalState:
        async with self.engine.begin() as conn:
            return await processes.start(conn, inp.process_id, inp.process_type, inp.target_ref)

    @activity.defn(name="governance.record_vote")
    async def record_vote(self, inp: RecordVote) -> ApprovalState:
        try:
            async with self.engine.begin() as conn:
                return await processes.record_vote(conn, inp.process_id, inp.vote)
        except LanaError as exc:
            raise ApplicationError(exc.detail, type=exc.code, non_retryable=True) from exc
