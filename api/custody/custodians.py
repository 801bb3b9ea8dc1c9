"""Custodians (api-surface §9 CU1–CU3; custody-price-reports.md §1.2–§1.5).

A custodian's config is write-only: it is accepted by ``POST /custodians`` and
``PUT /custodians/{id}/config``, stored only encrypted, and no response, error or log line carries
it (validation errors name fields, never values).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import bindparam, select, tuple_

from activities.custody import operations
from activities.custody.clients import client_for
from activities.custody.secrets import Keyring, keyring_from_settings
from activities.custody.tables import custodians
from api.authz import Principal, require
from api.deps import EngineDep, ReadConn
from api.enums import ApiEnum, Direction, api_enum
from api.idempotency import idempotent, new_entity_id
from api.pagination import Page, PageParams, cursor_after, page_from, page_params
from domain.custody.config import parse_config
from domain.custody.custodian import ConfigNotUpdatable, check_name
from domain.custody.model import CustodianNotFound, Provider
from domain.errors import ValidationFailed

router = APIRouter(tags=["custody"])
T = custodians
CustodianSort = api_enum("created_at", "name")
CREATABLE = (Provider.BITGO, Provider.KOMAINU, Provider.SELF_CUSTODY, Provider.MANUAL)


class CustodianCreate(BaseModel):
    """``provider`` and ``name``, plus the provider's fields: bitgo ``long_lived_token, enterprise_id,
    passphrase, testing_instance, webhook_url, webhook_secret``; komainu ``api_key, api_secret,
    testing_instance, secret_key, webhook_secret``; self-custody ``account_xpub, network``; manual none."""

    model_config = ConfigDict(extra="allow", hide_input_in_errors=True,
                              json_schema_extra={"additionalProperties": True})
    provider: ApiEnum[Provider]
    name: str = Field(min_length=1, max_length=200)


class CustodianConfigUpdate(BaseModel):
    """The provider's fields (as at creation); ``name`` is ignored."""

    model_config = ConfigDict(extra="allow", hide_input_in_errors=True,
                              json_schema_extra={"additionalProperties": True})


class CustodianOut(BaseModel):
    id: str
    name: str
    provider: ApiEnum[Provider]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, r) -> CustodianOut:
        return cls(id=str(r.id), name=r.name, provider=r.provider, created_at=r.created_at, updated_at=r.updated_at)


def keyring(request: Request) -> Keyring:
    state = request.app.state
    if getattr(state, "custody_keyring", None) is None:
        state.custody_keyring = keyring_from_settings(state.settings)
    return state.custody_keyring


async def _out(conn, custodian_id: str) -> CustodianOut:
    row = (await conn.execute(select(T).where(T.c.id == custodian_id))).first()
    if row is None:
        raise CustodianNotFound(f"Custodian {custodian_id} does not exist.")
    return CustodianOut.from_row(row)


def _fields(body: BaseModel) -> dict[str, Any]:
    extra = dict(body.model_extra or {})
    extra.pop("name", None)
    return extra


@router.get("/custodians", response_model=Page[CustodianOut], summary="List custodians (one per provider)")
async def list_custodians(conn: ReadConn, page: PageParams = Depends(page_params), sort: CustodianSort = "created_at",
                          direction: Direction = "desc",
                          principal: Principal = require("custody:custodian:list")) -> Page[CustodianOut]:
    column = T.c.created_at if sort == "created_at" else T.c.name
    key = tuple_(column, T.c.id)
    query = select(T)
    after = cursor_after(page, datetime if sort == "created_at" else str, uuid.UUID)
    if after:
        bound = tuple_(after[0], bindparam(None, str(after[1]), type_=T.c.id.type))
        query = query.where(key < bound if direction == "desc" else key > bound)
    order = (column.desc(), T.c.id.desc()) if direction == "desc" else (column.asc(), T.c.id.asc())
    rows = (await conn.execute(query.order_by(*order).limit(page.first + 1))).all()
    return page_from(rows, page, lambda r: (r.created_at if sort == "created_at" else r.name, r.id),
                     CustodianOut.from_row)


@router.get("/custodians/{custodian_id}", response_model=CustodianOut, summary="Get a custodian (never its config)")
async def get_custodian(custodian_id: uuid.UUID, conn: ReadConn,
                        principal: Principal = require("custody:custodian:list", id_param="custodian_id"),
                        ) -> CustodianOut:
    return await _out(conn, str(custodian_id))


@router.post("/custodians", status_code=201, response_model=CustodianOut,
             responses={409: {"description": "A custodian with this name or provider exists "
                                             "(custody.custodian_already_exists)"},
                        502: {"description": "verify_client failed at the provider (custody.provider_error)"}},
             summary="Register a custodian; its credentials are verified (where on) and stored encrypted")
async def create_custodian(body: CustodianCreate, request: Request, response: Response, engine: EngineDep,
                           principal: Principal = require("custody:custodian:create"),
                           _idem: str | None = idempotent()) -> CustodianOut:
    provider = Provider(body.provider)
    if provider not in CREATABLE:
        raise ValidationFailed(f"provider must be one of {', '.join(p.value for p in CREATABLE)}")
    name = check_name(body.name)
    config = parse_config(provider, _fields(body))
    settings = request.app.state.settings
    client = client_for(provider, config, settings)  # a key or xpub that cannot be used: 422 here, not at approval
    if settings.custody_verifies_clients:  # before anything is stored: a failure stores nothing
        await client.verify_client()
    custodian_id = str(new_entity_id(request))
    async with engine.begin() as conn:
        await operations.create_custodian(conn, keyring(request), custodian_id, name, provider, config,
                                          principal.subject)
        out = await _out(conn, custodian_id)
    response.headers["Location"] = f"/api/v1/custodians/{custodian_id}"
    return out


@router.put("/custodians/{custodian_id}/config", response_model=CustodianOut,
            summary="Replace a custodian's credentials (not for manual); no verification")
async def update_config(custodian_id: uuid.UUID, body: CustodianConfigUpdate, request: Request, engine: EngineDep,
                        principal: Principal = require("custody:custodian:update", id_param="custodian_id"),
                        ) -> CustodianOut:
    async with engine.begin() as conn:
        row = (await conn.execute(select(T.c.provider).where(T.c.id == str(custodian_id)))).first()
        if row is None:
            raise CustodianNotFound(f"Custodian {custodian_id} does not exist.")
        if row.provider in (Provider.MANUAL.value, Provider.MOCK.value):
            raise ConfigNotUpdatable(f"a {row.provider} custodian has no credentials to replace")
        config = parse_config(row.provider, _fields(body))  # a config of another kind: 422
        await operations.update_config(conn, keyring(request), str(custodian_id), config)
        return await _out(conn, str(custodian_id))
