"""Credit facilities (api-surface §8 CR4, CR6–CR8, CR14): proposals, pending facilities, facilities.

A proposal is created by one operation (``operations.create_proposal``: row + ``proposal_created``
event in one DB transaction), then its ``CreditFacility`` workflow is started (id conflict policy
USE_EXISTING, so a retried request with the same Idempotency-Key reaches the same proposal and the
same workflow). Everything after that is done by the workflow; these routes read the read model or
send it Updates.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import bindparam, select

from activities import event_store
from activities.credit import operations
from activities.credit.store import (
    AGGREGATE_COLUMNS,
    ENTITY,
    aggregate_from_row,
    facility_balance,
    facility_row,
)
from activities.credit.tables import collateral_updates, collateralization_history, facilities
from activities.custody import operations as custody
from activities.custody.tables import wallets
from activities.governance import processes
from activities.price.store import latest_price, price_latest
from api.authz import Principal, require
from api.capabilities import Command, capabilities
from api.credit.schemas import (
    STATUS_DEPS,
    CollateralizationDep,
    CollateralizationEntry,
    CollateralUpdate,
    CollateralUpdateEntry,
    CreditFacilityOut,
    CustomerDecision,
    DirectionDep,
    FacilityBalance,
    HistoryEntry,
    ProposalCreate,
)
from api.custody.custodians import keyring as custody_keyring
from api.deps import EngineDep, ReadConn, TemporalDep
from api.governance import vote_capabilities
from api.idempotency import idempotent, new_entity_id
from api.pagination import Page, PageParams, keyset_page, page_params
from api.workflow_calls import WorkflowNotRunning, call
from domain.credit.cvl import cvl_json
from domain.credit.errors import CollateralUpdateNotAllowed, CustomerDecisionNotPending, FacilityNotFound
from domain.credit.facility import CreditFacility
from domain.credit.messages import CollateralCommand, CustomerDecisionCommand
from domain.credit.status import ProposalStatus, Stage
from workflows.credit_facility import CreditFacilityWorkflow, facility_workflow_id, start_facility_workflow

router = APIRouter(tags=["credit: facilities"])
UNAVAILABLE = {503: {"description": "Temporal unreachable, or no fresh BTC price (price.stale_price)"}}
_STAGES = {"proposal": None, "pending": (Stage.PENDING, Stage.ACTIVE), "facility": (Stage.ACTIVE,)}


@router.post("/credit-facility-proposals", status_code=201, response_model=CreditFacilityOut,
             responses=UNAVAILABLE, summary="Create a facility proposal; starts its approval")
async def create_proposal(
    body: ProposalCreate, request: Request, response: Response, engine: EngineDep, temporal: TemporalDep,
    principal: Principal = require("credit:credit-facility:create"), _idem: str | None = idempotent(),
) -> CreditFacilityOut:
    facility_id = str(new_entity_id(request))
    settings = request.app.state.settings
    async with engine.begin() as conn:
        # custody-price-reports.md §1.6 Spec rule: the custodian is validated here, not at approval
        await custody.check_custodian_for_proposal(conn, body.custodian_id and str(body.custodian_id), settings,
                                                   custody_keyring(request))
        state, row = await operations.create_proposal(
            conn, facility_id, str(body.customer_id), body.amount, body.terms.to_domain(),
            body.custodian_id and str(body.custodian_id), principal.subject, kyc_required=settings.kyc_required)
    if state.stage is Stage.PROPOSAL:
        await start_facility_workflow(temporal, settings.temporal_task_queue, state)
    response.headers["Location"] = f"/api/v1/credit-facility-proposals/{facility_id}"
    return CreditFacilityOut.from_row(row)


@router.post("/credit-facility-proposals/{facility_id}/customer-decision", response_model=CreditFacilityOut,
             responses={409: {"description": "Not awaiting the customer (credit.customer_decision_not_pending)"},
                        **UNAVAILABLE},
             summary="Record the customer's acceptance (governance approval starts) or rejection (the end)")
async def customer_decision(
    facility_id: uuid.UUID, body: CustomerDecision, conn: ReadConn, temporal: TemporalDep,
    principal: Principal = require("credit:credit-facility:customer-approve", id_param="facility_id"),
) -> CreditFacilityOut:
    await facility_row(conn, str(facility_id))
    await conn.rollback()  # do not hold a snapshot while the workflow writes
    handle = temporal.get_workflow_handle(facility_workflow_id(str(facility_id)))
    try:
        await call(handle.execute_update(CreditFacilityWorkflow.customer_decision, CustomerDecisionCommand(
            approved=body.approved, actor=principal.subject)))
    except WorkflowNotRunning:
        row = await facility_row(conn, str(facility_id))
        if row.proposal_status == ProposalStatus.PENDING_CUSTOMER_APPROVAL.value:
            raise  # its workflow is not started yet (the sweeper starts it): 503, repeat the request
        raise CustomerDecisionNotPending(f"Facility {facility_id} is {row.proposal_status}; it is not awaiting "
                                         "the customer's decision.", proposal_status=row.proposal_status) from None
    return CreditFacilityOut.from_row(await facility_row(conn, str(facility_id)))


# a facility's row with its custody wallet (custody-price-reports.md §1.6; null until approval)
_WALLET_COLUMNS = (wallets.c.id.label("wallet_id"), wallets.c.address.label("wallet_address"),
                   wallets.c.network.label("wallet_network"), wallets.c.custodian_id.label("wallet_custodian_id"),
                   wallets.c.provider.label("wallet_provider"))
_WITH_WALLET = select(facilities, *_WALLET_COLUMNS).select_from(
    facilities.outerjoin(wallets, wallets.c.facility_id == facilities.c.id))


_ONE_WITH_WALLET = _WITH_WALLET.where(facilities.c.id == bindparam("facility_id"))
# A single read's whole view in one statement: the row with its wallet, what the aggregate needs for
# the capabilities (disbursals in flight, custody), and the latest price for the current CVL.
_ONE_FULL = _ONE_WITH_WALLET.add_columns(
    *AGGREGATE_COLUMNS,
    select(price_latest.c.usd_cents_per_btc).where(price_latest.c.id == 1).scalar_subquery().label("latest_price_cents"))


async def _row_with_wallet(conn, facility_id: str):
    row = (await conn.execute(_ONE_WITH_WALLET, {"facility_id": facility_id})).first()
    if row is None:
        raise FacilityNotFound(f"Credit facility {facility_id} does not exist.")
    return row


async def latest_price_cents(conn) -> int | None:
    """The latest recorded BTC price (whatever its age), for the current CVL a read shows."""
    latest = await latest_price(conn)
    return latest.usd_cents_per_btc if latest else None


async def _get(conn, facility_id: uuid.UUID, stage: str) -> CreditFacilityOut:
    row = await _row_with_wallet(conn, str(facility_id))
    _ensure_stage(row, facility_id, stage)
    return CreditFacilityOut.from_row(row, await latest_price_cents(conn))


def _ensure_stage(row, facility_id, stage: str) -> None:
    allowed = _STAGES[stage]
    if allowed is not None and row.stage not in {s.value for s in allowed}:
        raise FacilityNotFound(f"No {stage} {facility_id} (the loan is at stage {row.stage}).")


async def facility_capabilities(conn, request: Request, principal: Principal, f: CreditFacility) -> dict[str, bool]:
    """The loan's commands at any stage (docs/portal.md, Capabilities): the customer's decision, the
    governance vote, collateral, disbursal, payment, completion; each by the aggregate's predicate."""
    facility_id, s = f.id, f.state
    # completion also needs nothing outstanding: the ledger is read only when the rest says go
    complete = capabilities(request, principal, {"complete": Command(
        "credit:credit-facility:complete", facility_id, f.check_complete)})["complete"]
    balance = await facility_balance(conn, f.accounts) if complete and f.accounts else None
    return {**capabilities(request, principal, {
        "customer_decision": Command("credit:credit-facility:customer-approve", facility_id,
                                     f.check_customer_decision),
        "update_collateral": Command("credit-collateral:collateral:record-manual-update", s.collateral_id,
                                     lambda: f.check_manual_collateral_update(s.collateral_sats)),
        "initiate_disbursal": Command("credit:disbursal:initiate", None, lambda: f.check_disbursal(1, None)),
        "record_payment": Command("credit:obligation:record-payment-allocation", None, lambda: f.check_payment(1)),
        "complete": Command("credit:credit-facility:complete", facility_id,
                            lambda: complete and f.check_complete(balance)),
    }), **vote_capabilities(request, principal, await processes.load(conn, facility_id), facility_id)}


def _filters(stage: str, status: str | None, collateralization_state: str | None, customer_id: uuid.UUID | None):
    t = facilities
    where = []
    if _STAGES[stage] is not None:
        where.append(t.c.stage.in_([s.value for s in _STAGES[stage]]))
    column = {"proposal": t.c.proposal_status, "pending": t.c.pending_status, "facility": t.c.status}[stage]
    if status:
        where.append(column == str(status))
    if collateralization_state:
        coll = t.c.pending_collateralization if stage == "pending" else t.c.collateralization
        where.append(coll == str(collateralization_state))
    if customer_id:
        where.append(t.c.customer_id == str(customer_id))
    return where


def _routes(prefix: str, stage: str, noun: str) -> None:
    @router.get(f"/{prefix}/{{facility_id}}", response_model=CreditFacilityOut, summary=f"Get a {noun}")
    async def get_one(facility_id: uuid.UUID, conn: ReadConn, request: Request,
                      principal: Principal = require("credit:credit-facility:read", id_param="facility_id")):
        row = (await conn.execute(_ONE_FULL, {"facility_id": str(facility_id)})).first()
        if row is None:
            raise FacilityNotFound(f"Credit facility {facility_id} does not exist.")
        _ensure_stage(row, facility_id, stage)
        out = CreditFacilityOut.from_row(row, row.latest_price_cents)
        out.capabilities = await facility_capabilities(conn, request, principal, aggregate_from_row(row))
        return out

    @router.get(f"/{prefix}", response_model=Page[CreditFacilityOut], summary=f"List {noun}s")
    async def list_all(conn: ReadConn, page: PageParams = Depends(page_params), direction: str = DirectionDep,
                       status: str | None = STATUS_DEPS[stage],
                       collateralization_state: str | None = CollateralizationDep,
                       customer_id: uuid.UUID | None = None,
                       principal: Principal = require("credit:credit-facility:list")):
        where = _filters(stage, status, collateralization_state, customer_id)
        price = await latest_price_cents(conn)
        return await keyset_page(conn, _WITH_WALLET.where(*where), facilities, page,
                                 lambda r: CreditFacilityOut.from_row(r, price), direction=direction)

    @router.get(f"/{prefix}/{{facility_id}}/history", response_model=list[HistoryEntry],
                summary=f"Events of a {noun} (the whole loan: proposal, pending, facility)")
    async def history(facility_id: uuid.UUID, conn: ReadConn,
                      principal: Principal = require("credit:credit-facility:read", id_param="facility_id")):
        await _get(conn, facility_id, stage)
        evs = await event_store.load(conn, ENTITY, str(facility_id))
        return [HistoryEntry(sequence=e.sequence, event_type=e.event_type, payload=e.payload,
                             recorded_at=e.recorded_at) for e in evs]



_routes("credit-facility-proposals", "proposal", "credit facility proposal")
_routes("pending-credit-facilities", "pending", "pending credit facility")
_routes("credit-facilities", "facility", "credit facility")


@router.get("/credit-facilities/by-public-id/{public_id}", response_model=CreditFacilityOut,
            summary="Get a credit facility by public id")
async def get_by_public_id(public_id: int, conn: ReadConn,
                           principal: Principal = require("credit:credit-facility:read")) -> CreditFacilityOut:
    row = (await conn.execute(_WITH_WALLET.where(facilities.c.public_id == public_id,
                                                 facilities.c.stage == Stage.ACTIVE.value))).first()
    if row is None:
        raise FacilityNotFound(f"No credit facility with public id {public_id}.")
    return CreditFacilityOut.from_row(row, await latest_price_cents(conn))


@router.get("/credit-facilities/{facility_id}/collateralization-history",
            response_model=list[CollateralizationEntry],
            summary="Collateralization state changes (pending and active), oldest first: state, CVL, "
                    "collateral, total outstanding, price, when and why")
async def collateralization(facility_id: uuid.UUID, conn: ReadConn,
                            principal: Principal = require("credit:credit-facility:read", id_param="facility_id")):
    await facility_row(conn, str(facility_id))
    h = collateralization_history
    rows = await conn.execute(select(h).where(h.c.facility_id == str(facility_id)).order_by(h.c.seq))
    return [CollateralizationEntry(seq=r.seq, stage=r.stage, state=r.state, cvl=cvl_json(Decimal(r.cvl)),
                                   collateral=r.collateral_sats, outstanding=r.outstanding_cents,
                                   price_cents=r.price_cents, recorded_at=r.recorded_at, reason=r.reason)
            for r in rows]


@router.get("/credit-facilities/{facility_id}/collateral-updates", response_model=list[CollateralUpdateEntry],
            summary="Recorded collateral updates, oldest first")
async def collateral_history(facility_id: uuid.UUID, conn: ReadConn,
                             principal: Principal = require("credit:credit-facility:read", id_param="facility_id")):
    await facility_row(conn, str(facility_id))
    c = collateral_updates
    rows = await conn.execute(select(c).where(c.c.facility_id == str(facility_id)).order_by(c.c.seq))
    return [CollateralUpdateEntry(seq=r.seq, collateral_id=str(r.collateral_id), previous=r.previous_sats,
                                  collateral=r.new_sats, direction=r.direction, effective=r.effective,
                                  ledger_transaction_id=r.ledger_tx_id and str(r.ledger_tx_id),
                                  recorded_by=r.recorded_by, recorded_at=r.recorded_at) for r in rows]


@router.get("/credit-facilities/{facility_id}/balance", response_model=FacilityBalance,
            summary="Facility balances read from the ledger (credit.md §13)")
async def balance(facility_id: uuid.UUID, conn: ReadConn,
                  principal: Principal = require("credit:credit-facility:read", id_param="facility_id")):
    row = await facility_row(conn, str(facility_id))
    return await facility_balance(conn, row.accounts)


@router.post("/collaterals/{collateral_id}/manual-update", response_model=CreditFacilityOut, responses=UNAVAILABLE,
             summary="Set the new absolute collateral (sats); may activate a pending facility")
async def manual_collateral_update(
    collateral_id: uuid.UUID, body: CollateralUpdate, conn: ReadConn, temporal: TemporalDep,
    principal: Principal = require("credit-collateral:collateral:record-manual-update", id_param="collateral_id"),
) -> CreditFacilityOut:
    row = (await conn.execute(select(facilities.c.id).where(facilities.c.collateral_id == str(collateral_id)))).first()
    if row is None:
        raise FacilityNotFound(f"No collateral {collateral_id}.")
    await conn.rollback()  # do not hold a snapshot while the workflow writes
    handle = temporal.get_workflow_handle(facility_workflow_id(str(row.id)))
    await call(handle.execute_update(CreditFacilityWorkflow.update_collateral, CollateralCommand(
        collateral_sats=body.collateral, effective=body.effective, actor=principal.subject)),
        closed=CollateralUpdateNotAllowed("The facility is no longer open."))
    return CreditFacilityOut.from_row(await facility_row(conn, str(row.id)))
