"""The customer's decision on a proposal (credit.md §4.2, api-surface CR5), through the API with the
worker: accept → governance → pending → active; reject → the end; refusals; terms without the step."""

from __future__ import annotations

import uuid

from tests.integration.credit.facility_helpers import (
    PRICE,
    customer_decision,
    customer_with_deposit,
    propose,
    set_price,
    wait_for,
)
from workflows.credit_facility import CreditFacilityWorkflow, facility_workflow_id

NOT_PENDING = "credit.customer_decision_not_pending"


async def _events(http, fid):
    return (await http.get(f"/api/v1/credit-facility-proposals/{fid}/history")).json()


async def _audited(http, fid):
    r = await http.get("/api/v1/audit-entries", params={"object": f"credit/credit-facility/{fid}",
                                                         "action": "credit:credit-facility:customer-approve"})
    return r.json()["items"]


async def _proposal(stack, **terms) -> dict:
    """A new customer's proposal, at a fresh price; the customer has not decided yet."""
    await set_price(stack.engine, PRICE)
    customer_id, _ = await customer_with_deposit(stack)
    r = await propose(stack.http, customer_id, accept=False, **terms)
    assert r.status_code == 201, r.text
    return r.json()


async def _refused(http, fid, approved=True) -> None:
    r = await customer_decision(http, fid, approved)
    assert r.status_code == 409 and r.json()["code"] == NOT_PENDING, r.text


async def test_accepted_proposal_is_approved_and_activates(credit_stack):
    stack, http = credit_stack, credit_stack.http
    body = await _proposal(stack)
    fid = body["id"]
    assert (body["stage"], body["proposal_status"], body["terms"]["customer_acceptance_required"]) == (
        "PROPOSAL", "PENDING_CUSTOMER_APPROVAL", True)
    handle = stack.client.get_workflow_handle(facility_workflow_id(fid))
    assert (await handle.query(CreditFacilityWorkflow.summary)).status == "PendingCustomerApproval"
    listed = (await http.get("/api/v1/credit-facility-proposals?status=PendingCustomerApproval")).json()["items"]
    assert [p["id"] for p in listed] == [fid]
    # nothing moves before the customer decides: no approval process, collateral refused
    assert (await http.get(f"/api/v1/approval-processes/{fid}")).status_code == 404
    r = await http.post(f"/api/v1/collaterals/{body['collateral_id']}/manual-update", json={"collateral": 1})
    assert r.status_code == 409 and r.json()["code"] == "credit.collateral_update_not_allowed", r.text

    r = await customer_decision(http, fid, True)
    assert r.status_code == 200, r.text
    assert r.json()["proposal_status"] in ("PENDING_APPROVAL", "APPROVED")  # governance auto-approves
    await wait_for(lambda: http.get(f"/api/v1/pending-credit-facilities/{fid}"),
                   lambda b: b["pending_status"] == "PENDING_COLLATERALIZATION")
    await _refused(http, fid)  # once only
    r = await http.post(f"/api/v1/collaterals/{body['collateral_id']}/manual-update", json={"collateral": 10_000_000})
    assert r.status_code == 200 and r.json()["status"] == "ACTIVE", r.text

    events = await _events(http, fid)
    assert [e["event_type"] for e in events[:3]] == [
        "proposal_created", "customer_approval_concluded", "proposal_concluded"]
    assert events[1]["payload"]["approved"] is True and events[1]["payload"]["actor"].startswith("user:")
    assert [e["authorized"] for e in await _audited(http, fid)] == [True, True]  # both requests audited


async def test_rejected_proposal_ends_with_nothing_posted(credit_stack):
    stack, http = credit_stack, credit_stack.http
    fid = (await _proposal(stack))["id"]
    r = await customer_decision(http, fid, False)
    assert r.status_code == 200, r.text
    assert (r.json()["stage"], r.json()["proposal_status"]) == ("DENIED", "CUSTOMER_DENIED")
    result = await stack.client.get_workflow_handle(facility_workflow_id(fid)).result()
    assert result["proposal_status"] == "CustomerDenied"  # the run ended
    assert (await http.get(f"/api/v1/credit-facility-proposals/{fid}")).json()["proposal_status"] == "CUSTOMER_DENIED"
    assert (await http.get(f"/api/v1/pending-credit-facilities/{fid}")).status_code == 404
    assert (await http.get(f"/api/v1/approval-processes/{fid}")).status_code == 404  # governance never asked
    bal = (await http.get(f"/api/v1/credit-facilities/{fid}/balance")).json()
    assert bal["facility"] == 0  # no accounts, nothing posted
    events = await _events(http, fid)
    assert [(e["event_type"], e["payload"].get("approved")) for e in events] == [
        ("proposal_created", None), ("customer_approval_concluded", False)]
    for approved in (True, False):  # the workflow is closed: still the same refusal
        await _refused(http, fid, approved)
    assert len(await _audited(http, fid)) == 3


async def test_terms_without_the_step_behave_as_before(credit_stack):
    stack, http = credit_stack, credit_stack.http
    body = await _proposal(stack, customer_acceptance_required=False)
    assert (body["proposal_status"], body["terms"]["customer_acceptance_required"]) == ("PENDING_APPROVAL", False)
    fid = body["id"]
    await wait_for(lambda: http.get(f"/api/v1/pending-credit-facilities/{fid}"),
                   lambda b: b["pending_status"] == "PENDING_COLLATERALIZATION")
    assert "customer_approval_concluded" not in [e["event_type"] for e in await _events(http, fid)]
    await _refused(http, fid)
    r = await customer_decision(http, str(uuid.uuid4()), True)
    assert r.status_code == 404 and r.json()["code"] == "credit.facility_not_found", r.text
    r = await http.post(f"/api/v1/credit-facility-proposals/{fid}/customer-decision", json={})
    assert r.status_code == 422, r.text


async def test_terms_templates_default_to_the_step(credit_stack):
    from tests.credit_fixtures import terms_json

    http = credit_stack.http
    r = await http.post("/api/v1/terms-templates", json={"name": "new product", "terms": terms_json()})
    assert r.status_code == 201 and r.json()["terms"]["customer_acceptance_required"] is True, r.text
    r = await http.put(f"/api/v1/terms-templates/{r.json()['id']}",
                       json={"terms": terms_json(customer_acceptance_required=False)})
    assert r.status_code == 200 and r.json()["terms"]["customer_acceptance_required"] is False, r.text
