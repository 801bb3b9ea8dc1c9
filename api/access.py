"""Access API (api-surface §1): me, users, roles, permission sets."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from activities import access_queries, access_store
from api.authz import Principal, require
from api.deps import EngineDep, ReadConn
from api.enums import Direction, api_enum
from api.idempotency import idempotent
from api.pagination import Page, PageParams, cursor_after, page_from, page_params

router = APIRouter(tags=["access"])


class UserOut(BaseModel):
    id: uuid.UUID
    email: str
    role_id: uuid.UUID
    role_name: str
    created_at: datetime


class PermissionSetRef(BaseModel):
    id: uuid.UUID
    name: str


class RoleOut(BaseModel):
    id: uuid.UUID
    name: str
    permission_sets: list[PermissionSetRef]
    created_at: datetime


class PermissionOut(BaseModel):
    object: str
    action: str


class PermissionSetOut(BaseModel):
    id: uuid.UUID
    name: str
    description: str
    permissions: list[PermissionOut]


class MeOut(BaseModel):
    user: UserOut
    role: RoleOut
    capabilities: dict[str, bool]


class UserCreate(BaseModel):
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=320)
    role_id: uuid.UUID


class RoleAssign(BaseModel):
    role_id: uuid.UUID


class RoleCreate(BaseModel):
    name: str = Field(min_length=1, max_length=128)
    permission_set_ids: list[uuid.UUID] = Field(default_factory=list, max_length=100)


class PermissionSetIds(BaseModel):
    permission_set_ids: list[uuid.UUID] = Field(min_length=1, max_length=100)


UserSort = api_enum("created_at", "email")
RoleSort = api_enum("created_at", "name")
_CAPABILITIES = {"can_create_user": "access:user:create", "can_create_prospect": "customer:prospect:create",
                 "can_create_terms_template": "terms:terms-template:create",
                 "can_create_custodian": "custody:custodian:create"}


def _page(items: list[dict], page: PageParams, key: str) -> Page:
    return page_from(items, page, lambda r: (r[key], r["id"]))


def _after(page: PageParams, sort: str) -> tuple | None:
    return cursor_after(page, datetime if sort == "created_at" else str, uuid.UUID)


@router.get("/me", response_model=MeOut)
async def me(request: Request, conn: ReadConn, principal: Principal = require("access:user:read")):
    user = await access_store.get_user(conn, uuid.UUID(principal.user_id))
    role = await access_store.get_role(conn, user["role_id"])
    authz = request.app.state.authz
    return {"user": user, "role": role,
            "capabilities": {k: authz.can(principal, a) for k, a in _CAPABILITIES.items()}}


@router.get("/users", response_model=Page[UserOut])
async def list_users(conn: ReadConn, page: PageParams = Depends(page_params),
                     sort: UserSort = "created_at", direction: Direction = "desc",
                     principal: Principal = require("access:user:list")):
    items = await access_queries.list_users(conn, first=page.first, after=_after(page, sort), sort=sort,
                                            desc=direction == "desc")
    return _page(items, page, sort)


@router.get("/users/{user_id}", response_model=UserOut)
async def get_user(user_id: uuid.UUID, conn: ReadConn,
                   principal: Principal = require("access:user:read", id_param="user_id")):
    return await access_store.get_user(conn, user_id)


@router.post("/users", response_model=UserOut, status_code=201)
async def create_user(body: UserCreate, response: Response, engine: EngineDep,
                      principal: Principal = require("access:user:create"),
                      _idem: str | None = idempotent()):
    async with engine.begin() as conn:
        user = await access_store.create_user(conn, body.email.strip().lower(), body.role_id, actor=principal.subject)
    response.headers["Location"] = f"/api/v1/users/{user['id']}"
    return user


@router.put("/users/{user_id}/role", response_model=UserOut)
async def update_user_role(user_id: uuid.UUID, body: RoleAssign, engine: EngineDep,
                           principal: Principal = require("access:user:update-role", id_param="user_id")):
    async with engine.begin() as conn:
        return await access_store.update_user_role(conn, user_id, body.role_id, actor=principal.subject)


@router.get("/roles", response_model=Page[RoleOut])
async def list_roles(conn: ReadConn, page: PageParams = Depends(page_params),
                     sort: RoleSort = "created_at", direction: Direction = "desc",
                     principal: Principal = require("access:role:list")):
    items = await access_queries.list_roles(conn, first=page.first, after=_after(page, sort), sort=sort,
                                            desc=direction == "desc")
    return _page(items, page, sort)


@router.get("/roles/{role_id}", response_model=RoleOut)
async def get_role(role_id: uuid.UUID, conn: ReadConn,
                   principal: Principal = require("access:role:read", id_param="role_id")):
    return await access_store.get_role(conn, role_id)


@router.post("/roles", response_model=RoleOut, status_code=201)
async def create_role(body: RoleCreate, response: Response, engine: EngineDep,
                      principal: Principal = require("access:role:create"),
                      _idem: str | None = idempotent()):
    """Idempotent by name: an existing role of that name is returned with 200."""
    async with engine.begin() as conn:
        role = await access_store.create_role(conn, body.name, body.permission_set_ids, actor=principal.subject)
    if not role.pop("created"):
        response.status_code = 200
    response.headers["Location"] = f"/api/v1/roles/{role['id']}"
    return role


@router.post("/roles/{role_id}/add-permission-sets", response_model=RoleOut)
async def add_permission_sets(role_id: uuid.UUID, body: PermissionSetIds, engine: EngineDep,
                              principal: Principal = require("access:role:update", id_param="role_id")):
    async with engine.begin() as conn:
        return await access_store.add_permission_sets(conn, role_id, body.permission_set_ids,
                                                      actor=principal.subject)


@router.post("/roles/{role_id}/remove-permission-sets", response_model=RoleOut)
async def remove_permission_sets(role_id: uuid.UUID, body: PermissionSetIds, engine: EngineDep,
                                 principal: Principal = require("access:role:update", id_param="role_id")):
    async with engine.begin() as conn:
        return await access_store.remove_permission_sets(conn, role_id, body.permission_set_ids,
                                                         actor=principal.subject)


@router.get("/permission-sets", response_model=Page[PermissionSetOut])
async def list_permission_sets(conn: ReadConn, page: PageParams = Depends(page_params),
                               principal: Principal = require("access:permission-set:list")):
    items = await access_queries.list_permission_sets(conn, first=page.first, after=_after(page, "name"))
    return _page(items, page, "name")
