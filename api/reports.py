"""Reports (api-surface.md §11): the definitions, report runs (a ``ReportRun`` workflow each) and
signed download links of their files.

- ``GET /report-definitions``: the catalogue (custody-price-reports.md §4.4) with formats, kind and
  whether a definition takes an as-of date.
- ``POST /report-runs`` → 202 [IK] ``{report_definition_id, as_of_date?}``: unknown ⇒ 404
  ``report.definition_not_found``; an identity report ⇒ 422 ``report.identity_fields_missing``; the
  as-of date is required where supported and refused elsewhere (422 ``report.invalid_run_request``).
  The run is queued (its ``run_key`` is the request's entity id, so a retried key reaches the same
  run), then its workflow is started (a retry after a 503 starts the same one).
- ``GET /report-runs`` (newest first), ``GET /report-runs/{id}`` with reports and files.
- ``POST /reports/{id}/download-link`` ``{extension}`` ⇒ ``{url, expires_at}``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from activities.reports import operations, store
from activities.reports.tables import report_runs
from activities.storage import DocumentStorage
from activities.time import clock
from api.authz import Principal, require
from api.customers.documents import get_storage, now_ts
from api.deps import EngineDep, ReadConn, TemporalDep
from api.enums import ApiEnum, Direction
from api.idempotency import idempotent, new_entity_id
from api.pagination import Page, PageParams, page_of, page_params
from api.workflow_calls import call
from domain.reports.catalogue import CATALOGUE, Format, Kind
from domain.reports.errors import ReportNotFound
from domain.reports.run import ReportRun, ReportRunInput, RunState, RunType, definition_for_trigger
from workflows.report_run import start_report_run

router = APIRouter(tags=["reports"])


class DefinitionOut(BaseModel):
    report_definition_id: str
    norm: str
    id: str
    friendly_name: str
    outputs: list[ApiEnum[Format]]
    supports_as_of: bool
    kind: ApiEnum[Kind] = Field(description="Y own data, C constant, E header-only, K needs identity fields")
    runnable: bool
    columns: list[str]


class RunIn(BaseModel):
    report_definition_id: str = Field(min_length=1, max_length=100)
    as_of_date: date | None = None


class FileOut(BaseModel):
    extension: str
    path_in_bucket: str
    content_type: str
    size_bytes: int


class ReportOut(BaseModel):
    id: uuid.UUID
    external_id: str
    report_definition_id: str
    norm: str
    name: str
    row_count: int | None
    files: list[FileOut]


class RequestedReport(BaseModel):
    report_definition_id: str
    norm: str
    name: str


class RunOut(BaseModel):
    id: uuid.UUID
    state: ApiEnum[RunState]
    run_type: ApiEnum[RunType]
    requested_report: RequestedReport | None
    requested_as_of_date: date | None
    error: str | None
    requested_by: str
    start_time: datetime | None
    finished_at: datetime | None
    created_at: datetime
    reports: list[ReportOut] = []

    @classmethod
    def from_dict(cls, r: dict) -> RunOut:
        return cls(id=r["id"], state=r["state"], run_type=r["run_type"], requested_report=r["requested_report"],
                   requested_as_of_date=r["as_of_date"], error=r["error"], requested_by=r["requested_by"],
                   start_time=r["start_time"], finished_at=r["finished_at"], created_at=r["created_at"],
                   reports=[ReportOut(report_definition_id=x["definition_id"], **{
                       k: v for k, v in x.items() if k not in ("definition_id", "created_at")}) for x in r.get("reports", [])])


class LinkIn(BaseModel):
    extension: str = Field(min_length=1, max_length=8)


class LinkOut(BaseModel):
    url: str
    expires_at: datetime


@router.get("/report-definitions", response_model=list[DefinitionOut], summary="The report catalogue")
async def definitions(principal: Principal = require("report:report:read")) -> list[DefinitionOut]:
    return [DefinitionOut(report_definition_id=d.definition_id, norm=d.norm, id=d.id, friendly_name=d.friendly_name,
                          outputs=[f.value for f in d.outputs], supports_as_of=d.supports_as_of, kind=d.kind.value,
                          runnable=d.runnable, columns=list(d.columns)) for d in CATALOGUE]


@router.post("/report-runs", status_code=202, response_model=RunOut,
             responses={503: {"description": "Temporal unreachable: the run is queued, repeat the request"}},
             summary="Run one report definition (a ReportRun workflow)")
async def trigger(body: RunIn, request: Request, response: Response, engine: EngineDep, client: TemporalDep,
                  principal: Principal = require("report:report:generate"),
                  _idem: str | None = idempotent()) -> RunOut:
    d = definition_for_trigger(body.report_definition_id, body.as_of_date)
    run_id = str(new_entity_id(request))
    settings = request.app.state.settings
    async with engine.begin() as conn:
        _, today = await clock.business_now(conn, settings)
    run = await operations.queue(engine, ReportRun.queue(run_id, f"manual:{run_id}", RunType.MANUAL, d.definition_id,
                                                         body.as_of_date, principal.subject))
    await call(start_report_run(client, settings.temporal_task_queue, ReportRunInput(
        run_id=run.id, definition_ids=[d.definition_id], report_date=body.as_of_date or today,
        as_of_date=body.as_of_date)))
    response.headers["Location"] = f"/api/v1/report-runs/{run.id}"
    async with engine.connect() as conn:
        return RunOut.from_dict(await store.run_with_reports(conn, run.id))


@router.get("/report-runs", response_model=Page[RunOut], summary="List report runs, newest first")
async def list_runs(conn: ReadConn, page: PageParams = Depends(page_params), direction: Direction = "desc",
                    principal: Principal = require("report:report:read")) -> Page[RunOut]:
    listed = await page_of(conn, report_runs, page, lambda r: r, {}, direction)
    by_run = await store.reports_of_runs(conn, [str(r.id) for r in listed.items])
    return Page(items=[RunOut.from_dict({**store.run_dict(r), "reports": by_run[str(r.id)]}) for r in listed.items],
                next_cursor=listed.next_cursor)


@router.get("/report-runs/{run_id}", response_model=RunOut, summary="A report run with its reports and files")
async def get_run(run_id: uuid.UUID, conn: ReadConn,
                  principal: Principal = require("report:report:read", id_param="run_id")) -> RunOut:
    return RunOut.from_dict(await store.run_with_reports(conn, str(run_id)))


@router.post("/reports/{report_id}/download-link", response_model=LinkOut,
             summary="A signed, expiring download link of one report file")
async def download_link(report_id: uuid.UUID, body: LinkIn, request: Request, conn: ReadConn,
                        storage: DocumentStorage = Depends(get_storage),
                        principal: Principal = require("report:report:read", id_param="report_id")) -> LinkOut:
    found = await store.report_file(conn, str(report_id), body.extension.lower().lstrip("."))
    if found is None:
        raise ReportNotFound(f"Report {report_id} has no {body.extension!r} file.")
    url, expires = storage.download_link(found.path_in_bucket, request.app.state.settings.documents_link_ttl_seconds,
                                         now_ts(request))
    return LinkOut(url=url, expires_at=datetime.fromtimestamp(expires, UTC))
