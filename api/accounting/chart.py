"""Chart of accounts (AC1–AC5), its CSV export, and the module configs (D14–D15, CR19–CR20)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from fastapi import APIRouter, File, Form, Response, UploadFile
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from activities.accounting import chart, integration
from api.authz import Principal, require
from api.deps import EngineDep, ReadConn
from api.enums import ApiEnum, api_enum
from api.idempotency import idempotent
from domain.accounting.codes import fmt
from domain.accounting.config import CATEGORIES, OFF_BALANCE
from domain.accounting.errors import InvalidBaseConfig, InvalidChartCsv
from domain.ledger.model import Currency, NormalSide

router = APIRouter(tags=["accounting: chart of accounts"])
config_router = APIRouter(tags=["accounting: module configs"])
Category = api_enum(*CATEGORIES, OFF_BALANCE)
MAX_CSV_BYTES = 1_000_000
CSV_RESPONSE = {200: {"content": {"text/csv": {}}, "description": "CSV"}}


class NodeOut(BaseModel):
    code: str
    name: str
    parent_code: str | None
    normal_balance: ApiEnum[NormalSide]
    account_set_id: uuid.UUID
    manual_account_id: uuid.UUID | None = None
    is_leaf: bool
    children: list[NodeOut] = []


class ChartOut(BaseModel):
    id: uuid.UUID
    reference: str
    name: str
    account_set_id: uuid.UUID
    base_config: dict[str, str] | None
    nodes: list[NodeOut]


class ImportOut(BaseModel):
    chart_id: str = Field(description="The chart the nodes were imported into")
    created: list[str]
    base_config: dict[str, str] | None = None


class NewNode(BaseModel):
    parent: str = Field(max_length=200)
    code: str = Field(max_length=200)
    name: str = Field(max_length=200)


def _tree(all_nodes: dict) -> list[NodeOut]:
    kids: dict[Any, list] = {}
    for n in all_nodes.values():
        kids.setdefault(n.parent, []).append(n)

    def build(parent) -> list[NodeOut]:
        return [NodeOut(code=n.code_str, name=n.name, parent_code=fmt(n.parent) if n.parent else None,
                        normal_balance=n.normal_balance, account_set_id=n.account_set_id,
                        manual_account_id=n.manual_account_id, is_leaf=n.code not in kids,
                        children=build(n.code)) for n in sorted(kids.get(parent, []), key=lambda n: n.code)]

    return build(None)


@router.get("/chart-of-accounts", response_model=ChartOut, summary="The chart as a node tree, with its base config")
async def get_chart(conn: ReadConn, principal: Principal = require("accounting:chart:list")) -> ChartOut:
    base = await chart.base_config(conn)
    return ChartOut(id=chart.CHART_ID, reference=chart.CHART_REFERENCE, name="Chart of Accounts",
                    account_set_id=chart.ROOT_SET_ID, base_config=base.as_dict() if base else None,
                    nodes=_tree(await chart.nodes(conn)))


@router.get("/chart-of-accounts/csv", response_class=PlainTextResponse, responses=CSV_RESPONSE,
            summary="Export the chart in the import format (re-importing it is lossless)")
async def export_chart(conn: ReadConn, principal: Principal = require("accounting:chart:list")):
    return Response(await chart.export_csv(conn), media_type="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="chart-of-accounts.csv"'})


@router.get("/chart-of-accounts/categories/{category}/account-sets", response_model=list[NodeOut],
            summary="Nodes of one base-config category (flat, in code order)")
async def category_nodes(category: Category, conn: ReadConn,
                         principal: Principal = require("accounting:chart:list")) -> list[NodeOut]:
    base = await chart.base_config(conn)
    all_nodes = await chart.nodes(conn)
    parents = {n.parent for n in all_nodes.values()}
    return [NodeOut(code=n.code_str, name=n.name, parent_code=fmt(n.parent) if n.parent else None,
                    normal_balance=n.normal_balance, account_set_id=n.account_set_id,
                    manual_account_id=n.manual_account_id, is_leaf=n.code not in parents)
            for n in sorted(all_nodes.values(), key=lambda n: n.code)
            if base is not None and base.category_of(n.code) == category]


async def _read_csv(file: UploadFile) -> str:
    data = await file.read(MAX_CSV_BYTES + 1)
    if len(data) > MAX_CSV_BYTES:
        raise InvalidChartCsv(f"The CSV is limited to {MAX_CSV_BYTES} bytes.", errors=[])
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidChartCsv("The CSV must be UTF-8.", errors=[]) from exc


@router.post("/chart-of-accounts/import", response_model=ImportOut,
             summary="Import nodes from CSV (multipart part `file`); all rows valid or nothing imported")
async def import_chart(engine: EngineDep, file: UploadFile = File(...),
                       principal: Principal = require("accounting:chart:import-accounts")) -> ImportOut:
    text = await _read_csv(file)
    async with engine.begin() as conn:
        return ImportOut(chart_id=str(chart.CHART_ID), created=await chart.import_csv(conn, text))


@router.post("/chart-of-accounts/import-with-base-config", response_model=ImportOut,
             summary="Import CSV and set the base config (form field `base_config`, JSON with the 8 codes)")
async def import_with_base_config(engine: EngineDep, file: UploadFile = File(...), base_config: str = Form(...),
                                  principal: Principal = require("accounting:chart:import-accounts")) -> ImportOut:
    text = await _read_csv(file)
    try:
        raw = json.loads(base_config)
    except ValueError as exc:
        raise InvalidBaseConfig("base_config must be a JSON object.") from exc
    if not isinstance(raw, dict):
        raise InvalidBaseConfig("base_config must be a JSON object.")
    async with engine.begin() as conn:
        created = await chart.import_csv(conn, text)
        cfg = await chart.set_base_config(conn, raw)
    return ImportOut(chart_id=str(chart.CHART_ID), created=created, base_config=cfg.as_dict())


@router.post("/chart-of-accounts/nodes", status_code=201, response_model=NodeOut,
             summary="Add a node under an existing parent (normal balance inherited; idempotent)")
async def add_node(body: NewNode, response: Response, engine: EngineDep,
                   principal: Principal = require("accounting:chart:update"),
                   _idem: str | None = idempotent()) -> NodeOut:
    async with engine.begin() as conn:
        n = await chart.add_child_node(conn, body.parent, body.code, body.name)
    response.headers["Location"] = f"/api/v1/ledger-account-sets/{n.account_set_id}"
    return NodeOut(code=n.code_str, name=n.name, parent_code=fmt(n.parent) if n.parent else None,
                   normal_balance=n.normal_balance, account_set_id=n.account_set_id, is_leaf=True)


class ModuleConfigOut(BaseModel):
    module: str
    config: dict[str, str] | None


def _config_routes(module: str) -> None:
    @config_router.get(f"/module-configs/{module}", response_model=ModuleConfigOut,
                       summary=f"The {module} module's chart mapping (null until set)")
    async def get_config(conn: ReadConn, principal: Principal = require(
            f"{module}:chart-of-accounts-integration-config:read")) -> ModuleConfigOut:
        return ModuleConfigOut(module=module, config=await integration.get_module_config(conn, module))

    @config_router.put(f"/module-configs/{module}", response_model=ModuleConfigOut,
                       summary=f"Set the {module} module's chart mapping (once; the same again is a no-op)")
    async def put_config(body: dict[str, str], engine: EngineDep, principal: Principal = require(
            f"{module}:chart-of-accounts-integration-config:update")) -> ModuleConfigOut:
        async with engine.begin() as conn:
            return ModuleConfigOut(module=module, config=await integration.set_module_config(conn, module, body))


for _module in ("deposit", "credit"):
    _config_routes(_module)


class NodeBalance(BaseModel):
    currency: ApiEnum[Currency]
    settled: int
    pending: int
    available: int


class LedgerAccountByCodeOut(BaseModel):
    code: str
    name: str
    normal_balance: ApiEnum[NormalSide]
    account_set_id: uuid.UUID
    parent_code: str | None
    ancestor_codes: list[str]
    children_codes: list[str]
    is_leaf: bool
    balances: list[NodeBalance]


@router.get("/ledger-accounts/by-code/{code}", response_model=LedgerAccountByCodeOut,
            summary="A chart node as a ledger account: balances (roll-up of its subtree), ancestors, children")
async def ledger_account_by_code(code: str, conn: ReadConn,
                                 principal: Principal = require("accounting:ledger-account:list")):
    from activities import ledger

    node = await chart.get_node(conn, code)
    all_nodes = await chart.nodes(conn)
    ancestors, p = [], node.parent
    while p is not None:
        ancestors.append(fmt(p))
        p = all_nodes[p].parent
    children = sorted(n.code for n in all_nodes.values() if n.parent == node.code)
    balances = await ledger.set_balances(conn, node.account_set_id)
    return LedgerAccountByCodeOut(
        code=node.code_str, name=node.name, normal_balance=node.normal_balance, account_set_id=node.account_set_id,
        parent_code=fmt(node.parent) if node.parent else None, ancestor_codes=ancestors,
        children_codes=[fmt(c) for c in children], is_leaf=not children,
        balances=[NodeBalance(currency=c, settled=b.settled, pending=b.pending, available=b.available)
                  for c, b in balances.items()])
