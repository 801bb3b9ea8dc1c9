"""SumSub webhook: verify the payload digest first, then signal the customer's KYC workflow.

`POST /webhooks/sumsub` (not bearer-protected). Order (customers-deposits.md §6.5): the
`X-Payload-Digest` HMAC of the raw body under the configured webhook secret is checked before
anything else; a missing or wrong digest is 401 and changes nothing. A verified notice becomes a
signal-with-start on ``customer-kyc-{customer_id}`` carrying SumSub's event identity.
"""

from __future__ import annotations

import dataclasses
import json
import uuid

import structlog
from fastapi import APIRouter, Request
from sqlalchemy import select
from temporalio.service import RPCError

from activities.customers.tables import customers
from api.deps import ReadConn, TemporalDep
from domain.customers.messages import KycWorkflowInput
from domain.customers.sumsub import parse_notice, verify_digest
from domain.errors import LanaError, ServiceUnavailable, Unauthenticated, ValidationFailed
from workflows.customer_kyc import CustomerKycWorkflow, kyc_workflow_id

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/webhooks", tags=["webhooks"])


def check_webhook_secret(settings) -> None:
    """At start-up: without ``LANA_SUMSUB_WEBHOOK_SECRET`` every SumSub callback is refused (401).
    Production refuses to start; development says so once, with the fix."""
    if settings.sumsub_webhook_secret:
        return
    if settings.is_production:
        raise ValueError("production needs LANA_SUMSUB_WEBHOOK_SECRET (the secret of your SumSub webhook): "
                         "without it every KYC callback is refused")
    log.warning("LANA_SUMSUB_WEBHOOK_SECRET is unset: every SumSub webhook will be refused with 401; set it to "
                "the secret configured for the webhook in SumSub (README, 'KYC webhooks')")


class InvalidWebhookSignature(Unauthenticated):
    code = "customer.webhook_signature_invalid"
    title = "Invalid webhook signature"


@router.post("/sumsub", summary="SumSub KYC callback (HMAC-verified)",
             responses={401: {"description": "Missing or invalid X-Payload-Digest"}})
async def sumsub_webhook(request: Request, conn: ReadConn, client: TemporalDep) -> dict:
    settings = request.app.state.settings
    if not settings.sumsub_webhook_secret or not request.headers.get("x-payload-digest"):
        raise InvalidWebhookSignature("The SumSub payload digest is missing or does not match.")
    body = await request.body()  # bounded by LANA_WEBHOOK_MAX_BODY_BYTES (api/body_limit.py)
    if not verify_digest(settings.sumsub_webhook_secret, body, request.headers.get("x-payload-digest"),
                         request.headers.get("x-payload-digest-alg")):
        raise InvalidWebhookSignature("The SumSub payload digest is missing or does not match.")
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise LanaError("The body is not JSON.", code="common.bad_request") from exc
    if not isinstance(payload, dict):
        raise ValidationFailed("The body must be a JSON object.")
    notice = parse_notice(payload, body)
    if notice is None:
        log.info("sumsub callback ignored", type=payload.get("type"))
        return {}
    try:
        customer_id = str(uuid.UUID(notice.customer_id))
    except ValueError:
        log.warning("sumsub callback with a non-UUID externalUserId", type=notice.type)
        return {}
    if (await conn.execute(select(customers.c.id).where(customers.c.id == customer_id))).first() is None:
        log.warning("sumsub callback for an unknown customer", customer_id=customer_id)
        return {}
    notice = dataclasses.replace(notice, customer_id=customer_id)
    try:
        await client.start_workflow(
            CustomerKycWorkflow.run, KycWorkflowInput(customer_id, settings.kyc_workflow_idle_seconds),
            id=kyc_workflow_id(customer_id),
            task_queue=settings.temporal_task_queue, start_signal="kyc_notice", start_signal_args=[notice])
    except RPCError as exc:  # SumSub retries on a non-2xx answer
        raise ServiceUnavailable("Could not hand the notice to Temporal; retry later.") from exc
    log.info("sumsub callback accepted", customer_id=customer_id, type=notice.type, event_id=notice.event_id)
    return {}
