"""Governance endpoints (api-surface §3): committees, policies, approval processes and votes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Discriminator, Field, Tag
from sqlalchemy import text

from activities.governance import committees, policies, processes
from api.authz import Principal, require
from api.capabilities import CAPABILITIES_FIELD, Command, capabilities
from api.deps import EngineDep, ReadConn, TemporalDep
from api.enums import ApiEnum, api_enum, normalize
from api.idempotency import idempotent
from api.pagination import Page, PageParams, cursor_after, page_from, page_params
from api.workflow_calls import WorkflowNotRunning, call
from domain.errors import Forbidden, ServiceUnavailable
from domain.governance.errors import ApprovalProcessNotFound
from domain.governance.rules import AutoApprove, CommitteeRule, ProcessType
from domain.governance.voting import ApprovalState, ApprovalStatus, Vote, check_vote, ensure_open
from workflows.approval_process import ApprovalProcessWorkflow, VoteInput, approval_workflow_id

router = APIRouter(tags=["governance"])


class CommitteeCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    member_user_ids: list[UUID] = Field(min_length=1)


class Committee(BaseModel):
    id: str
    name: str
    member_user_ids: list[str]
    created_at: datetime


@router.post("/committees", status_code=201, response_model=Committee)
async def create_committee(body: CommitteeCreate, engine: EngineDep,
                           _: Principal = require("governance:committee:create"),
                           _idem: str | None = idempotent()):
    async with engine.begin() as conn:
        cid = await committees.create(conn, body.name, [str(u) for u in body.member_user_ids])
        return await committees.get(conn, cid)


@router.get("/committees", response_model=Page[Committee])
async def list_committees(conn: ReadConn, page: Annotated[PageParams, Depends(page_params)],
                          _: Principal = require("governance:committee:list")):
    rows = await committees.page(conn, page.first, cursor_after(page, datetime, UUID))
    return page_from(rows, page, lambda r: (r["created_at"], r["id"]))


@router.get("/committees/{committee_id}", response_model=Committee)
async def get_committee(committee_id: UUID, conn: ReadConn,
                        _: Principal = require("governance:committee:read", id_param="committee_id")):
    return await committees.get(conn, str(committee_id))


@router.put("/committees/{committee_id}/members/{user_id}", response_model=Committee)
async def add_member(committee_id: UUID, user_id: UUID, engine: EngineDep,
                     _: Principal = require("governance:committee:add-member", id_param="committee_id")):
    async with engine.begin() as conn:
        await committees.add_member(conn, str(committee_id), str(user_id))
        return await committees.get(conn, str(committee_id))


@router.delete("/committees/{committee_id}/members/{user_id}", response_model=Committee)
async def remove_member(committee_id: UUID, user_id: UUID, engine: EngineDep,
                        _: Principal = require("governance:committee:remove-member", id_param="committee_id")):
    async with engine.begin() as conn:
        await committees.remove_member(conn, str(committee_id), str(user_id))
        return await committees.get(conn, str(committee_id))


# Rule kinds as the API spells them; the stored rules keep the domain's "committee" / "auto_approve".
COMMITTEE, AUTO_APPROVE = "committee", "auto_approve"


def _rule_kind(value: Any) -> str | None:
    """The union tag of a rule, whatever its spelling (a dict or a rule model)."""
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return normalize(kind) if isinstance(kind, str) else None


class CommitteeRuleOut(BaseModel):
    type: api_enum(COMMITTEE)  # type: ignore[valid-type]
    committee_id: str
    threshold: int = Field(description="Approving votes needed to conclude approved")


class AutoApproveOut(BaseModel):
    type: api_enum(AUTO_APPROVE)  # type: ignore[valid-type]


class Policy(BaseModel):
    id: str
    process_type: ApiEnum[ProcessType]
    rules: Annotated[Annotated[CommitteeRuleOut, Tag("COMMITTEE")] | Annotated[AutoApproveOut, Tag("AUTO_APPROVE")],
                     Discriminator(_rule_kind)]
    created_at: datetime


class CommitteeRuleInput(BaseModel):
    type: api_enum(COMMITTEE)  # type: ignore[valid-type]
    committee_id: UUID
    threshold: int | None = Field(None, description="Approvals needed; default: every member")


class AutoApproveInput(BaseModel):
    type: api_enum(AUTO_APPROVE)  # type: ignore[valid-type]


class ApprovalProcessOut(BaseModel):
    """An approval process (domain ApprovalState) with the API's enum spelling."""

    process_id: str
    process_type: ApiEnum[ProcessType]
    target_ref: str
    eligible: list[str]
    threshold: int
    votes: list[Vote] = []
    status: ApiEnum[ApprovalStatus]
    ended_reason: str | None = None
    capabilities: dict[str, bool] | None = CAPABILITIES_FIELD


@router.get("/policies", response_model=Page[Policy])
async def list_policies(conn: ReadConn, page: Annotated[PageParams, Depends(page_params)],
                        _: Principal = require("governance:policy:list")):
    rows = await policies.page(conn, page.first, cursor_after(page, str))
    return page_from(rows, page, lambda r: (r["process_type"],))


@router.get("/policies/{policy_id}", response_model=Policy)
async def get_policy(policy_id: UUID, conn: ReadConn,
                     _: Principal = require("governance:policy:read", id_param="policy_id")):
    return await policies.get(conn, str(policy_id))


@router.put("/policies/{policy_id}/rules", response_model=Policy)
async def set_policy_rules(policy_id: UUID, body: Annotated[
                               Annotated[CommitteeRuleInput, Tag("COMMITTEE")] | Annotated[AutoApproveInput,
                                                                                         Tag("AUTO_APPROVE")],
                               Discriminator(_rule_kind)], engine: EngineDep,
                           _: Principal = require("governance:policy:update-policy-rules", id_param="policy_id")):
    async with engine.begin() as conn:
        if isinstance(body, CommitteeRuleInput):
            cid = str(body.committee_id)
            size = len((await committees.get(conn, cid))["member_user_ids"])
            rules = CommitteeRule(committee_id=cid, threshold=size if body.threshold is None else body.threshold)
        else:
            rules = AutoApprove()
        return await policies.set_rules(conn, str(policy_id), rules)


@router.get("/approval-processes", response_model=Page[ApprovalProcessOut])
async def list_processes(conn: ReadConn, page: Annotated[PageParams, Depends(page_params)],
                         status: ApiEnum[ApprovalStatus] | None = Query(None),
                         process_type: ApiEnum[ProcessType] | None = Query(None),
                         _: Principal = require("governance:approval-process:list")):
    after = cursor_after(page, datetime, UUID)
    rows = (await conn.execute(
        text("SELECT id::text AS process_id, process_type, target_ref, eligible, threshold, status, votes,"
             " ended_reason, created_at FROM gov_approval_processes"
             " WHERE (CAST(:st AS text) IS NULL OR status = :st) AND (CAST(:pt AS text) IS NULL OR process_type = :pt)"
             " AND (CAST(:a AS timestamptz) IS NULL OR (created_at, id::text) < (CAST(:a AS timestamptz), :aid))"
             " ORDER BY created_at DESC, id DESC LIMIT :n"),
        {"st": status.value if status else None, "pt": process_type.value if process_type else None, "a": after[0] if after else None,
         "aid": str(after[1]) if after else "", "n": page.first + 1})).all()
    return page_from(rows, page, lambda r: (r.created_at, r.process_id), processes._state)


@router.get("/approval-processes/{process_id}", response_model=ApprovalProcessOut)
async def get_process(process_id: UUID, conn: ReadConn, request: Request,
                      principal: Principal = require("governance:approval-process:read", id_param="process_id")):
    state = await processes.load(conn, str(process_id))
    if state is None:
        raise ApprovalProcessNotFound(f"approval process {process_id} not found")
    return ApprovalProcessOut.model_validate(
        {**state.model_dump(), "capabilities": vote_capabilities(request, principal, state, str(process_id))})


def vote_capabilities(request: Request, principal: Principal, state: ApprovalState | None,
                      process_id: str) -> dict[str, bool]:
    """``approve`` / ``deny``: the vote permission and ``check_vote`` (open, eligible, not voted yet)
    on the process as stored (None: not started yet, so no vote). Also on the resources an approval
    decides (withdrawals, disbursals, proposals)."""

    def may(approve: bool):
        return lambda: (state is not None and principal.user_id is not None
                        and check_vote(state, principal.user_id, approve, None if approve else "a reason") is None)

    return capabilities(request, principal, {
        "approve": Command("governance:approval-process:approve", None, may(True)),
        "deny": Command("governance:approval-process:deny", process_id, may(False))})


class DenyInput(BaseModel):
    reason: str = Field(max_length=2000)


async def _vote(process_id: UUID, conn, client, vote: VoteInput) -> ApprovalState:
    pid = str(process_id)
    state = await _in_progress(conn, pid)
    await conn.rollback()  # hold no snapshot while the workflow writes
    handle = client.get_workflow_handle(approval_workflow_id(pid))
    try:
        # A repeat after a 503 is safe: a vote that did land answers 409 governance.already_voted.
        return await call(handle.execute_update(ApprovalProcessWorkflow.vote, vote))
    except WorkflowNotRunning:
        # The stored state says in progress, so the workflow is not yet started (its parent starts
        # it, the sweeper restarts a lost one), unless it concluded in the meantime.
        await _in_progress(conn, pid)
        raise ServiceUnavailable(f"approval process {state.process_id} is starting; retry shortly",
                                 retry_after=1) from None


async def _in_progress(conn, process_id: str) -> ApprovalState:
    state = await processes.load(conn, process_id)
    if state is None:
        raise ApprovalProcessNotFound(f"approval process {process_id} not found")
    ensure_open(state)
    return state


def _voter(principal: Principal) -> str:
    if not principal.user_id:
        raise Forbidden("only operator users can vote", code="governance.subject_is_not_committee_member")
    return principal.user_id


@router.post("/approval-processes/{process_id}/approve", response_model=ApprovalProcessOut)
async def approve(process_id: UUID, conn: ReadConn, client: TemporalDep,
                  principal: Principal = require("governance:approval-process:approve")):
    return await _vote(process_id, conn, client, VoteInput(voter_id=_voter(principal), approve=True))


@router.post("/approval-processes/{process_id}/deny", response_model=ApprovalProcessOut)
async def deny(process_id: UUID, body: DenyInput, conn: ReadConn, client: TemporalDep,
               principal: Principal = require("governance:approval-process:deny", id_param="process_id")):
    vote = VoteInput(voter_id=_voter(principal), approve=False, reason=body.reason)
    return await _vote(process_id, conn, client, vote)
