"""KYC through the real HTTP webhook into the customer's KYC workflow, and the SumSub adapter."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select
from temporalio.service import RPCError

from activities.event_store import events
from domain.customers.messages import KycWorkflowInput
from domain.customers.sumsub import KycNotice, parse_notice
from tests.integration.customers_helpers import (
    create_customer,
    customer_events,
    customer_stack,
    deliver,
    post_webhook,
    review,
)
from workflows.customer_kyc import CustomerKycWorkflow, kyc_workflow_id


async def get(stack, customer_id: str) -> dict:
    return (await stack.http.get(f"/api/v1/customers/{customer_id}")).json()


async def test_green_verifies_with_mapped_level(cstack):
    basic = await create_customer(cstack.http)
    company = await create_customer(cstack.http, "Bank")
    await deliver(cstack, basic["id"], review(basic["id"], "GREEN"))
    await deliver(cstack, company["id"], review(company["id"], "GREEN", level="kyb-advanced"))
    assert (await get(cstack, basic["id"]))[
        "kyc_status"] == "VERIFIED" and (await get(cstack, basic["id"]))["kyc_level"] == "BASIC"
    verified = await get(cstack, company["id"])
    assert verified["kyc_status"] == "VERIFIED" and verified["kyc_level"] == "ADVANCED"
    assert verified["applicant_id"] == "app-0001"
    audit = (await cstack.http.get("/api/v1/audit-entries", params={"subject": "system:sumsub"})).json()
    assert sorted(e["object"] for e in audit["items"]) == sorted(
        f"customer/customer/{c['id']}" for c in (basic, company))
    assert {e["action"] for e in audit["items"]} == {"customer:customer:approve-kyc"}


async def test_red_rejects_then_freezes_and_green_unfreezes_deposit_accounts(cstack):
    c = await create_customer(cstack.http)
    cid = c["id"]
    await deliver(cstack, cid, review(cid, "RED", created_at="2026-01-01 09:00:00.000"))
    assert (await get(cstack, cid))["kyc_status"] == "REJECTED"
    # rejected before ever being verified: nothing to freeze
    assert not [e for e in await customer_events(cstack, cid) if e[0] == "deposit_accounts_action_requested"]

    await deliver(cstack, cid, review(cid, "GREEN", created_at="2026-01-02 09:00:00.000"))
    await deliver(cstack, cid, review(cid, "RED", created_at="2026-01-03 09:00:00.000"))
    assert (await get(cstack, cid))["kyc_status"] == "REJECTED"
    await deliver(cstack, cid, review(cid, "GREEN", created_at="2026-01-04 09:00:00.000"))
    assert (await get(cstack, cid))["kyc_status"] == "VERIFIED"
    actions = [p["action"] for t, p in await customer_events(cstack, cid) if t == "deposit_accounts_action_requested"]
    assert actions == ["freeze", "unfreeze"]


async def test_forged_or_missing_signature_is_401_and_changes_nothing(cstack):
    c = await create_customer(cstack.http)
    body = review(c["id"], "GREEN")
    for signature in (None, "00" * 32, "not-hex"):
        r = await post_webhook(cstack, body, signature=signature)
        assert r.status_code == 401, r.text
        assert r.json()["code"] == "customer.webhook_signature_invalid"
    wrong_alg = await cstack.http.post("/webhooks/sumsub", content=body, headers={
        "x-payload-digest": "ab", "x-payload-digest-alg": "MD5"})
    assert wrong_alg.status_code == 401
    assert (await get(cstack, c["id"]))["kyc_status"] == "PENDING_VERIFICATION"
    assert [t for t, _ in await customer_events(cstack, c["id"])] == ["initialized"]
    with pytest.raises(RPCError):  # no workflow was even started
        await cstack.client.get_workflow_handle(kyc_workflow_id(c["id"])).describe()


async def test_a_non_ascii_digest_is_401_not_500(cstack):
    c = await create_customer(cstack.http)
    body = review(c["id"], "GREEN")
    for digest in ("é".encode("latin-1") * 64, "ü".encode("latin-1")):
        r = await cstack.http.post("/webhooks/sumsub", content=body, headers={
            "content-type": "application/json", "x-payload-digest": digest})
        assert r.status_code == 401, r.text
        assert r.json()["code"] == "customer.webhook_signature_invalid"


async def test_replayed_and_out_of_order_webhooks_are_harmless(cstack):
    c = await create_customer(cstack.http)
    cid = c["id"]
    green = review(cid, "GREEN", created_at="2026-02-01 12:00:00.000", correlation="req-green")
    await deliver(cstack, cid, green)
    before = await customer_events(cstack, cid)
    await deliver(cstack, cid, green)  # exact replay
    stale_red = review(cid, "RED", created_at="2026-01-15 12:00:00.000", correlation="req-old")
    await deliver(cstack, cid, stale_red)  # older than the review already applied
    assert await customer_events(cstack, cid) == before
    assert (await get(cstack, cid))["kyc_status"] == "VERIFIED"


async def test_unknown_types_customers_and_bad_json_are_acknowledged_or_rejected(cstack):
    ok = await post_webhook(cstack, b'{"type":"applicantPending","externalUserId":"x"}')
    assert ok.status_code == 200 and ok.json() == {}
    unknown = await post_webhook(cstack, review("6a0c0e55-0000-4000-8000-000000000000", "GREEN"))
    assert unknown.status_code == 200
    bad = await post_webhook(cstack, b"{not json")
    assert bad.status_code == 400 and bad.headers["content-type"].startswith("application/problem+json")


async def test_kyc_link_creates_applicant_once_with_signed_requests(cstack):
    c = await create_customer(cstack.http, "PrivateCompany")
    r = await cstack.http.post(f"/api/v1/customers/{c['id']}/kyc-link")
    assert r.status_code == 200, r.text
    assert r.json()["url"].startswith("https://in.sumsub.test/websdk/p/kyb-basic/")
    r2 = await cstack.http.post(f"/api/v1/customers/{c['id']}/kyc-link")
    assert r2.status_code == 200
    fake = cstack.sumsub
    assert all(req["signed"] for req in fake.requests)
    paths = [req["path"].split("?")[0] for req in fake.requests]
    assert paths.count("/resources/applicants") == 1  # the applicant is created once
    assert fake.requests[1]["path"] == (f"/resources/sdkIntegrations/levels/kyb-basic/websdkLink"
                                        f"?&externalUserId={c['id']}")
    assert (await get(cstack, c["id"]))["applicant_id"] == "app-0001"
    kinds = [t for t, _ in await customer_events(cstack, c["id"])]
    assert kinds == ["initialized", "kyc_applicant_created", "kyc_link_created", "kyc_link_created"]


async def test_kyc_link_provider_error_is_a_problem_and_records_nothing(cstack):
    c = await create_customer(cstack.http)
    cstack.sumsub.fail_with = 400
    r = await cstack.http.post(f"/api/v1/customers/{c['id']}/kyc-link")
    assert r.status_code == 502 and r.json()["code"] == "customer.kyc_provider_unavailable"
    async with cstack.engine.connect() as conn:
        n = await conn.scalar(select(func.count()).select_from(events).where(events.c.entity_id == c["id"]))
    assert n == 1


async def test_one_run_absorbs_a_burst_and_drops_duplicates(db_url, engine, dev_env):
    """Real clock on the dev server: a run waits `kyc_workflow_idle_seconds` for more notices."""
    async with customer_stack(db_url, engine, dev_env.client, kyc_workflow_idle_seconds=3) as stack:
        c = await create_customer(stack.http)
        cid = c["id"]
        red = review(cid, "RED", created_at="2026-03-01 10:00:00.000", correlation="burst-1")
        green = review(cid, "GREEN", created_at="2026-03-01 11:00:00.000", correlation="burst-2")
        for body in (red, red, green, red):
            assert (await post_webhook(stack, body)).status_code == 200
        handle = stack.client.get_workflow_handle(kyc_workflow_id(cid))
        applied = await handle.result()
        assert applied == 2  # the repeated RED was dropped by the workflow itself
        assert (await get(stack, cid))["kyc_status"] == "VERIFIED"



async def test_notices_handed_over_by_continue_as_new_and_signalled_at_start_are_applied(cstack):
    """@workflow.init queues the notices a previous run handed over (continue-as-new) before the first
    activation's signal (signal-with-start) is handled: both are applied, in that order."""
    cid = (await create_customer(cstack.http))["id"]

    def notice(answer: str, created_at: str) -> KycNotice:
        body = review(cid, answer, created_at=created_at)
        return parse_notice(json.loads(body), body)

    async def run(pending: KycNotice, signalled: KycNotice) -> int:
        return await cstack.client.execute_workflow(
            CustomerKycWorkflow.run, KycWorkflowInput(cid, idle_seconds=0, pending=(pending,)),
            id=kyc_workflow_id(cid), task_queue=cstack.settings.temporal_task_queue,
            start_signal="kyc_notice", start_signal_args=[signalled])

    red, green = notice("RED", "2026-04-01 10:00:00.000"), notice("GREEN", "2026-04-01 11:00:00.000")
    assert await run(red, green) == 2
    decisions = [t for t, _ in await customer_events(cstack, cid) if t in ("kyc_approved", "kyc_rejected")]
    assert decisions == ["kyc_rejected", "kyc_approved"]
    assert (await get(cstack, cid))["kyc_status"] == "VERIFIED"
    later = notice("RED", "2026-04-02 10:00:00.000")
    assert await run(later, later) == 1  # the signalled repeat of a handed-over notice is dropped
