"""Terms templates (api-surface §8 CR1–CR3): create [IK], replace terms, get, list."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel
from sqlalchemy import select

from activities.credit.terms_templates import (
    TemplateIdTaken,
    insert_template,
    load_template,
    save_template,
    template_row,
    terms_templates,
)
from api.authz import Principal, require
from api.credit.schemas import NewTerms, Terms
from api.deps import EngineDep, ReadConn
from api.enums import ApiEnum, Direction
from api.idempotency import idempotent, new_entity_id
from api.pagination import Page, PageParams, keyset_page, page_params
from domain.credit.terms import DurationClass, TermValues
from domain.credit.terms_template import TermsTemplate, clean_name
from domain.errors import IdempotencyKeyReused

router = APIRouter(tags=["credit: terms templates"])


class TermsTemplateCreate(BaseModel):
    name: str
    terms: NewTerms


class TermsTemplateUpdate(BaseModel):
    terms: NewTerms


class TermsTemplateOut(BaseModel):
    id: str
    name: str
    terms: Terms
    duration_class: ApiEnum[DurationClass]
    effective_annual_rate: Decimal
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, r) -> TermsTemplateOut:
        terms = Terms.model_validate(r.term_values)
        return cls(id=str(r.id), name=r.name, terms=terms, duration_class=terms.duration_class,
                   effective_annual_rate=terms.effective_annual_rate, version=r.version,
                   created_at=r.created_at, updated_at=r.updated_at)


@router.post("/terms-templates", status_code=201, response_model=TermsTemplateOut,
             summary="Create a named terms template (Idempotency-Key honoured)")
async def create_terms_template(
    body: TermsTemplateCreate, request: Request, response: Response, engine: EngineDep,
    principal: Principal = require("terms:terms-template:create"),
    _idem: str | None = idempotent(),
) -> TermsTemplateOut:
    # With an Idempotency-Key the id derives from (caller, key): a re-run lands on the same row.
    template_id = str(new_entity_id(request))
    template = TermsTemplate.create(template_id, body.name, body.terms.to_domain(), principal.subject)
    try:
        async with engine.begin() as conn:
            await insert_template(conn, template, principal.subject)
            row = await template_row(conn, template_id)
    except TemplateIdTaken:
        async with engine.connect() as conn:
            row = await template_row(conn, template_id)
        first = await _first_values(engine, template_id)
        if row.name != clean_name(body.name) or first != body.terms.to_domain():
            raise IdempotencyKeyReused("This Idempotency-Key was used for a different terms template.") from None
    response.headers["Location"] = f"/api/v1/terms-templates/{template_id}"
    return TermsTemplateOut.from_row(row)


async def _first_values(engine, template_id: str) -> TermValues:
    """The values the template was created with (a replay compares with the original request)."""
    from activities import event_store

    async with engine.connect() as conn:
        first = (await event_store.load(conn, TermsTemplate.entity_type, template_id))[0]
    return TermValues.model_validate(first.payload["values"])


@router.put("/terms-templates/{template_id}", response_model=TermsTemplateOut,
            summary="Replace a template's terms (existing proposals and facilities keep their copy)")
async def update_terms_template(
    template_id: uuid.UUID, body: TermsTemplateUpdate, engine: EngineDep,
    principal: Principal = require("terms:terms-template:update", id_param="template_id"),
) -> TermsTemplateOut:
    async with engine.begin() as conn:
        template = await load_template(conn, str(template_id))
        template.update_values(body.terms.to_domain(), principal.subject)
        await save_template(conn, template)
        row = await template_row(conn, str(template_id))
    return TermsTemplateOut.from_row(row)


@router.get("/terms-templates/{template_id}", response_model=TermsTemplateOut, summary="Get a terms template")
async def get_terms_template(
    template_id: uuid.UUID, conn: ReadConn,
    principal: Principal = require("terms:terms-template:read", id_param="template_id"),
) -> TermsTemplateOut:
    return TermsTemplateOut.from_row(await template_row(conn, str(template_id)))


@router.get("/terms-templates", response_model=Page[TermsTemplateOut], summary="List terms templates")
async def list_terms_templates(
    conn: ReadConn, page: PageParams = Depends(page_params),
    direction: Direction = "desc",
    principal: Principal = require("terms:terms-template:list"),
) -> Page[TermsTemplateOut]:
    t = terms_templates
    query = select(t)
    return await keyset_page(conn, query, t, page, TermsTemplateOut.from_row, direction=direction)
