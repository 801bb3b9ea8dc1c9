"""The customer's statement of a facility (issue 18 item 5):
``GET /credit-facilities/{id}/statement?from=&until=`` as JSON (cursor pages) or CSV (streamed).

Lines in effective-date order, then recorded order (``activities/credit/statement_store.py``), each
with the running balances after it (``domain/credit/statement.py``). JSON amounts are integers in
minor units (cents, sats), as everywhere in the API; CSV amounts are exact decimal strings in major
units with the line's currency, as the accounting statements' CSV; its first and last rows are
the opening and closing balances (kind ``opening`` / ``closing``). The closing figures are the
ledger's as of ``until``: with ``until`` = today they are the balance summary's
(``GET /credit-facilities/{id}/balance``).
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from activities.credit import statement_store as ss
from activities.credit.store import facility_row
from activities.time.clock import business_now
from api.authz import Principal, require
from api.deps import ReadConn
from api.pagination import PageParams, cursor_after, encode_cursor, page_params
from domain.accounting.money import to_major
from domain.credit.statement import Balances, StatementLine, running
from domain.errors import ValidationFailed

router = APIRouter(tags=["credit: statement"])
READ = "credit:credit-facility:read"
CSV_PAGE = 500  # lines read per query while streaming the CSV

From = Annotated[date | None, Query(alias="from", description="First effective date (inclusive); default: all")]
Until = Annotated[date | None, Query(description="Last effective date (inclusive); default: the business date")]
Format = Annotated[str | None, Query(pattern="^(?i:json|csv)$",
                                      description="JSON (default) or CSV; or send Accept: text/csv")]


class StatementBalances(BaseModel):
    principal_outstanding: int = Field(description="Not-yet-due + due + overdue principal (cents)")
    interest_outstanding: int = Field(description="Posted interest not yet paid, excluding defaulted (cents)")
    total_outstanding: int = Field(description="Principal + interest outstanding (cents), as the CVL's")
    accrued_interest: int = Field(description="Accrued in the open cycle, not yet posted (cents)")
    defaulted: int = Field(description="Defaulted principal and interest (cents), outside the outstanding")
    collateral: int = Field(description="Collateral (sats)")

    @classmethod
    def of(cls, b: Balances) -> StatementBalances:
        return cls(principal_outstanding=b.principal, interest_outstanding=b.interest, total_outstanding=b.total,
                   accrued_interest=b.accrued, defaulted=b.defaulted, collateral=b.collateral)


class StatementLineOut(BaseModel):
    effective: date
    recorded_at: datetime
    kind: str = Field(description="disbursal_settled, structuring_fee, interest_accrued, interest_posted, "
                                  "obligation_due|overdue|defaulted, payment, payment_allocation, "
                                  "collateral_added|removed, collateralization_changed, or another template's "
                                  "code in lower case (liquidation)")
    template_code: str | None
    ledger_transaction_id: str | None
    collateralization_seq: int | None
    amount: int = Field(description="Minor units of `currency` (0 for a state change)")
    currency: str | None
    collateralization_state: str | None = None
    cvl: str | None = None
    price_cents: int | None = None
    reason: str | None = None
    balances: StatementBalances

    @classmethod
    def of(cls, s: StatementLine) -> StatementLineOut:
        ln, ledger = s.line, s.line.template_code is not None
        return cls(effective=ln.effective, recorded_at=ln.recorded_at, kind=ln.kind, template_code=ln.template_code,
                   ledger_transaction_id=ln.transaction_id,
                   collateralization_seq=None if ledger else int(ln.ref), amount=ln.amount, currency=ln.currency,
                   collateralization_state=ln.detail.get("state"), cvl=ln.detail.get("cvl"),
                   price_cents=ln.detail.get("price_cents"), reason=ln.detail.get("reason"),
                   balances=StatementBalances.of(s.balances))


class StatementOut(BaseModel):
    facility_id: str
    from_: date | None = Field(serialization_alias="from")
    until: date
    opening: StatementBalances = Field(description="Balances before `from` (all zero without `from`)")
    closing: StatementBalances = Field(description="Balances at the end of `until`")
    items: list[StatementLineOut]
    next_cursor: str | None = None


CSV_COLUMNS = ["effective", "recorded_at", "kind", "template_code", "ledger_transaction_id", "collateralization_seq",
               "amount", "currency", "collateralization_state", "cvl", "price_usd", "reason",
               "principal_outstanding_usd", "interest_outstanding_usd", "total_outstanding_usd",
               "accrued_interest_usd", "defaulted_usd", "collateral_btc"]


def _balances_csv(b: Balances) -> list[str]:
    return [to_major(b.principal, "USD"), to_major(b.interest, "USD"), to_major(b.total, "USD"),
            to_major(b.accrued, "USD"), to_major(b.defaulted, "USD"), to_major(b.collateral, "BTC")]


def csv_row(s: StatementLine) -> list[str]:
    o = StatementLineOut.of(s)
    return [o.effective.isoformat(), o.recorded_at.isoformat(), o.kind, o.template_code or "",
            o.ledger_transaction_id or "", "" if o.collateralization_seq is None else str(o.collateralization_seq),
            to_major(o.amount, o.currency) if o.currency else "0", o.currency or "", o.collateralization_state or "",
            o.cvl or "", "" if o.price_cents is None else to_major(o.price_cents, "USD"), o.reason or "",
            *_balances_csv(s.balances)]


def _csv_text(rows: list[list[str]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def _key_of(s: StatementLine) -> list:
    ln = s.line
    return [ln.effective.isoformat(), ln.recorded_at, 0 if ln.template_code else 1, ln.ref]


def _after(page: PageParams) -> ss.Key | None:
    after = cursor_after(page, str, datetime, int, str)
    if after is None:
        return None
    try:
        return date.fromisoformat(after[0]), after[1], after[2], after[3]
    except ValueError as exc:
        raise ValidationFailed("Invalid pagination cursor.", code="common.invalid_cursor") from exc


def _wants_csv(request: Request, fmt: str | None) -> bool:
    if fmt is not None:
        return fmt.lower() == "csv"
    return "text/csv" in request.headers.get("accept", "")


@router.get("/credit-facilities/{facility_id}/statement", response_model=StatementOut,
            responses={200: {"content": {"application/json": {}, "text/csv": {}},
                             "description": "The statement: JSON pages, or the whole period as CSV"}},
            summary="The customer's statement: every movement with running balances (JSON or CSV)")
async def statement(facility_id: uuid.UUID, request: Request, conn: ReadConn, start: From = None,
                    until: Until = None, format: Format = None, page: PageParams = Depends(page_params),
                    principal: Principal = require(READ, id_param="facility_id")):
    row = await facility_row(conn, str(facility_id))
    if until is None:
        _, until = await business_now(conn, request.app.state.settings)
    if start is not None and start > until:
        raise ValidationFailed("from must not be after until.", code="credit.invalid_statement_period",
                               **{"from": start.isoformat(), "until": until.isoformat()})
    acc = await ss.accounts_of(conn, str(facility_id), row.accounts or {})
    first_day = start or date.min
    opening = await ss.balances_before(conn, acc, first_day)
    if _wants_csv(request, format):
        name = f"credit-facility-{facility_id}-statement-{start or 'start'}-{until}.csv"
        return StreamingResponse(_stream(request, acc, first_day, until, opening), media_type="text/csv",
                                 headers={"Content-Disposition": f'attachment; filename="{name}"'})
    after = _after(page)
    before = opening if after is None else await ss.balances_after_key(conn, acc, after)
    keys = await ss.page_keys(conn, acc, first_day, until, after, page.first + 1)
    lines = list(running(before, await ss.lines_of(conn, acc, keys[:page.first])))
    closing = await ss.balances_through(conn, acc, until)
    return StatementOut(facility_id=str(facility_id), from_=start, until=until, opening=StatementBalances.of(opening),
                        closing=StatementBalances.of(closing), items=[StatementLineOut.of(s) for s in lines],
                        next_cursor=encode_cursor(_key_of(lines[-1])) if len(keys) > page.first and lines else None)


async def _stream(request: Request, acc: ss.Accounts, start: date, until: date,
                  opening: Balances) -> AsyncIterator[str]:
    """The CSV (an ``opening`` row, the lines, a ``closing`` row), page by page, each page on a connection of its own (the request's is gone by the
    time the body streams); the running balances carry over in memory, so a 10-year facility's
    statement holds one page at a time."""
    yield _csv_text([CSV_COLUMNS, _summary_row("opening", start, opening)])
    balances, after = opening, None
    while True:
        async with request.app.state.engine.connect() as conn:
            keys = await ss.page_keys(conn, acc, start, until, after, CSV_PAGE)
            lines = list(running(balances, await ss.lines_of(conn, acc, keys)))
        if lines:
            yield _csv_text([csv_row(s) for s in lines])
            balances = lines[-1].balances
        if len(keys) < CSV_PAGE:
            break
        after = keys[-1]
    yield _csv_text([_summary_row("closing", until, balances)])


def _summary_row(kind: str, day: date, b: Balances) -> list[str]:
    """The CSV's first and last rows: the balances before ``from`` and after the last line."""
    return ["" if day == date.min else day.isoformat(), "", kind, "", "", "", "", "", "", "", "", "",
            *_balances_csv(b)]
