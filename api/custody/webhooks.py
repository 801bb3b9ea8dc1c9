"""Custodian webhooks (custody-price-reports.md §1.7, §2; api-surface.md §16).

``POST /webhooks/custodians/{provider}`` (not bearer-protected; ``bitgo``, ``komainu``, and
``mock`` only with ``LANA_CUSTODY_MOCK_ENABLED``). The body is limited before it is read
(``LANA_WEBHOOK_MAX_BODY_BYTES``, api/body_limit.py). Then, in order:

1. the custodian of that provider (none ⇒ 404 ``custody.custodian_not_found``, nothing stored);
2. its adapter checks the signature of the raw body (``verify_webhook``): a forged, missing or
   stale signature is 401 ``custody.webhook_signature_invalid``, audited (subject
   ``webhook:<provider>``, ``authorized = false``), nothing stored;
3. ``parse_webhook``: garbage is 422 ``custody.webhook_payload_invalid``, nothing stored; a
   notification that changes nothing (e.g. a BitGo transfer not confirmed) is 200 ``IGNORED``;
4. the inbox row, once per provider event identity (a replay answers 200 with the stored id and
   stores nothing new), then the notice is handed to ``custody-wallet-{wallet_id}`` (signal-with-
   start), or, when no wallet has that external id yet, to ``custody-notice-{inbox_id}``, which
   retries a bounded number of times before the row is ``FAILED``. 202 ``{id, status, replayed}``.

``GET /api/v1/custodian-webhook-events/{id}`` reads an inbox row at once (``PENDING`` /
``COMPLETED`` / ``FAILED`` with the error), permission ``custody:custodian:list``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from temporalio.common import WorkflowIDConflictPolicy

from activities.audit import record
from activities.custody import inbox, wallet_sync
from api.authz import Principal, require
from api.deps import EngineDep, ReadConn, TemporalDep
from domain.custody.model import CustodianNotFound, Provider, WebhookSignatureInvalid
from domain.custody.sync_messages import BalanceNotice, ResolveInput
from domain.errors import NotFound
from workflows.custody_wallet import CustodyNoticeWorkflow, notice_workflow_id

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/webhooks/custodians", tags=["webhooks"])
events_router = APIRouter(tags=["custody"])

_WEBHOOK_PROVIDERS = {Provider.BITGO, Provider.KOMAINU, Provider.MOCK}


class WebhookAccepted(BaseModel):
    id: str | None
    status: str
    replayed: bool = False


class WebhookEventOut(BaseModel):
    id: str
    provider: str
    event_id: str
    external_wallet_id: str
    wallet_id: str | None
    status: str
    error: str | None
    received_at: datetime
    processed_at: datetime | None


def _provider(name: str, settings) -> Provider:
    try:
        provider = Provider(name.lower())
    except ValueError:
        provider = None
    if provider not in _WEBHOOK_PROVIDERS or (provider is Provider.MOCK and not settings.custody_mock):
        raise CustodianNotFound(f"No custodian webhook for provider {name!r}.")
    return provider


@router.post("/{provider}", status_code=202, response_model=WebhookAccepted,
             summary="Custodian wallet notification (signature-verified; stored once, then processed)",
             responses={401: {"description": "Missing, forged or stale signature"},
                        404: {"description": "No custodian of that provider"},
                        413: {"description": "Body over LANA_WEBHOOK_MAX_BODY_BYTES"},
                        422: {"description": "Not a notification this provider sends"}})
async def custodian_webhook(provider: str, request: Request, engine: EngineDep, client: TemporalDep):
    settings = request.app.state.settings
    kind = _provider(provider, settings)
    async with engine.connect() as conn:
        custodian = await wallet_sync.custodian_of(conn, kind.value)
    if custodian is None:
        raise CustodianNotFound(f"No custodian of provider {kind.value}.")
    adapter = wallet_sync.keyring_clients(request.app.state.custody_keyring)(kind.value, custodian, settings)
    body = await request.body()  # bounded by LANA_WEBHOOK_MAX_BODY_BYTES (api/body_limit.py)
    headers = {k.lower(): v for k, v in request.headers.items()}
    try:
        adapter.verify_webhook(headers, body, datetime.now(UTC))
    except WebhookSignatureInvalid:
        async with engine.begin() as conn:
            await record(conn, f"webhook:{kind.value}", f"custody/custodian/{custodian.id}", "custody:webhook:receive",
                         False, request_id=getattr(request.state, "request_id", None))
        log.warning("custodian webhook refused: bad signature", provider=kind.value)
        raise
    notice = adapter.parse_webhook(headers, body)  # WebhookPayloadInvalid ⇒ 422, nothing stored
    if notice is None:
        log.info("custodian webhook ignored", provider=kind.value)
        return JSONResponse({"id": None, "status": "IGNORED", "replayed": False}, status_code=200)
    async with engine.begin() as conn:
        wallet_id = await inbox.wallet_for(conn, kind.value, notice.external_wallet_id)
        stored = await inbox.store(conn, kind.value, notice, body, wallet_id)
    if stored.status == "PENDING":  # a replay still pending is handed over again (harmless: deduplicated)
        await _hand_over(client, settings, kind.value, notice, stored)
    log.info("custodian webhook stored", provider=kind.value, inbox_id=stored.id, replayed=not stored.created)
    answer = {"id": stored.id, "status": stored.status, "replayed": not stored.created}
    return JSONResponse(answer, status_code=202 if stored.created else 200)


async def _hand_over(client, settings, provider: str, notice, stored: inbox.Stored) -> None:
    if stored.wallet_id is not None:
        await wallet_sync.signal_wallet(client, settings.temporal_task_queue, BalanceNotice(
            wallet_id=stored.wallet_id, provider=provider, inbox_id=stored.id, event_id=notice.event_id,
            external_wallet_id=notice.external_wallet_id, balance_sats=notice.balance_sats,
            detail=dict(notice.detail)), settings.custody_wallet_idle_seconds)
        return
    await wallet_sync.hand_over(lambda: client.start_workflow(
        CustodyNoticeWorkflow.run, ResolveInput(inbox_id=stored.id, provider=provider,
                                                attempts=settings.custody_unknown_wallet_attempts),
        id=notice_workflow_id(stored.id), task_queue=settings.temporal_task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING))


class WebhookEventNotFound(NotFound):
    code = "custody.webhook_event_not_found"
    title = "Custodian webhook event not found"


@events_router.get("/custodian-webhook-events/{event_id}", response_model=WebhookEventOut,
                   summary="A stored custodian notification: PENDING, COMPLETED or FAILED (with the error)")
async def get_webhook_event(event_id: uuid.UUID, conn: ReadConn,
                            principal: Principal = require("custody:custodian:list")) -> WebhookEventOut:
    row = await inbox.get(conn, str(event_id))
    if row is None:
        raise WebhookEventNotFound(f"No custodian webhook event {event_id}.")
    return WebhookEventOut(id=str(row.id), provider=row.provider, event_id=row.event_id,
                           external_wallet_id=row.external_wallet_id, wallet_id=row.wallet_id and str(row.wallet_id),
                           status=row.status, error=row.error, received_at=row.received_at,
                           processed_at=row.processed_at)
