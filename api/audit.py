"""Audit API (api-surface §2): the audit log, newest first, exact-match filters, time range."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from activities import access_queries
from api.authz import Principal, require
from api.deps import ReadConn
from api.pagination import Page, PageParams, cursor_after, page_from, page_params

router = APIRouter(tags=["audit"])


class AuditEntryOut(BaseModel):
    id: int
    subject: str
    object: str
    action: str
    authorized: bool
    recorded_at: datetime
    request_id: str | None = None
    workflow_id: str | None = None


@router.get("/audit-entries", response_model=Page[AuditEntryOut])
async def list_audit_entries(
    conn: ReadConn,
    page: PageParams = Depends(page_params),
    subject: str | None = Query(None, max_length=128),
    object: str | None = Query(None, max_length=255),
    action: str | None = Query(None, max_length=128),
    authorized: bool | None = None,
    request_id: str | None = Query(None, max_length=128),
    workflow_id: str | None = Query(None, max_length=255),
    since: datetime | None = Query(None, description="recorded_at >= since (RFC 3339)"),
    until: datetime | None = Query(None, description="recorded_at < until (RFC 3339)"),
    principal: Principal = require("audit:audit:list"),
):
    filters = {"subject": subject, "object": object, "action": action, "authorized": authorized,
               "request_id": request_id, "workflow_id": workflow_id, "since": since, "until": until}
    rows = await access_queries.list_audit(conn, first=page.first, after=cursor_after(page, int),
                                           filters=filters)
    return page_from(rows, page, lambda r: (r.id,), lambda r: dict(r._mapping))


@router.get("/audit-entries/subjects", response_model=list[str])
async def audit_subjects(conn: ReadConn, principal: Principal = require("audit:audit:list")):
    return await access_queries.audit_subjects(conn)
