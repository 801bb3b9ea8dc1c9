"""Proposal → approval → collateral → activation → disbursal, through the API with the worker."""


from tests.integration.credit.facility_helpers import (
    PRICE,
    customer_with_deposit,
    deposit_balance,
    propose,
    set_price,
    wait_for,
)


async def _pending(http, fid):
    return await wait_for(lambda: http.get(f"/api/v1/pending-credit-facilities/{fid}"),
                          lambda b: b["pending_status"] == "PENDING_COLLATERALIZATION")


async def _collateral(http, collateral_id, sats):
    return await http.post(f"/api/v1/collaterals/{collateral_id}/manual-update", json={"collateral": sats})


async def test_full_path_to_the_cent(credit_stack):
    stack, http = credit_stack, credit_stack.http
    await set_price(stack.engine, PRICE)
    customer_id, deposit = await customer_with_deposit(stack)

    r = await propose(http, customer_id, 100_000, one_time_fee_rate="1", disbursal_policy="MultipleDisbursal")
    assert r.status_code == 201, r.text
    proposal = r.json()
    fid, collateral_id = proposal["id"], proposal["collateral_id"]
    assert r.headers["location"] == f"/api/v1/credit-facility-proposals/{fid}"
    assert proposal["proposal_status"] == "PENDING_CUSTOMER_APPROVAL"  # the helper's customer then accepts
    assert proposal["terms"]["customer_acceptance_required"] is True  # the new-product default
    pending = await _pending(http, fid)
    assert pending["proposal_status"] == "APPROVED"
    assert pending["collateralization_state"] == "NOT_YET_COLLATERALIZED"
    bal = (await http.get(f"/api/v1/credit-facilities/{fid}/balance")).json()
    assert bal["facility"] == 100_000 and bal["facility_remaining"] == 0  # commitment on PENDING only

    # $1,000 at $60,000/BTC, initial CVL 140: 2,333,334 sats are needed (2,333,333 → CVL 139).
    r = await _collateral(http, collateral_id, 2_000_000)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["stage"], body["collateralization_state"], body["cvl"]) == (
        "PENDING", "UNDER_COLLATERALIZED", {"value": "120"})
    body = (await _collateral(http, collateral_id, 2_333_333)).json()
    assert (body["stage"], body["cvl"]) == ("PENDING", {"value": "139"})  # below initial CVL: no activation
    assert (await http.get(f"/api/v1/credit-facilities/{fid}")).status_code == 404

    body = (await _collateral(http, collateral_id, 2_333_334)).json()
    assert (body["stage"], body["status"], body["pending_status"]) == ("ACTIVE", "ACTIVE", "COMPLETED")
    assert body["cvl"] == {"value": "140"} and body["collateralization_state"] == "FULLY_COLLATERALIZED"
    assert body["drawn"] == 1_000 and body["disbursed"] == 1_000  # fee-sized initial disbursal (multiple policy)
    bal = (await http.get(f"/api/v1/credit-facilities/{fid}/balance")).json()
    assert {k: v for k, v in bal.items() if v} == {  # every other figure (due, overdue, interest…) is 0
        "facility": 100_000, "facility_remaining": 99_000, "collateral": 2_333_334, "disbursed": 1_000,
        "not_yet_due_disbursed_outstanding": 1_000, "disbursed_outstanding": 1_000, "uncovered_outstanding": 1_000,
        "fee_income": 1_000, "total_outstanding": 1_000, "any_outstanding_or_defaulted": True}
    assert await deposit_balance(stack, deposit) == 0  # fee drawn in, then charged

    r = await http.post(f"/api/v1/credit-facilities/{fid}/disbursals", json={"amount": 50_000})
    assert r.status_code == 201, r.text
    did = r.json()["id"]
    done = await wait_for(lambda: http.get(f"/api/v1/disbursals/{did}"), lambda b: b["status"] != "NEW")
    assert done["status"] == "CONFIRMED" and done["amount"] == 50_000
    assert await deposit_balance(stack, deposit) == 50_000
    bal = (await http.get(f"/api/v1/credit-facilities/{fid}/balance")).json()
    assert (bal["facility_remaining"], bal["disbursed"], bal["uncovered_outstanding"]) == (49_000, 51_000, 51_000)

    r = await http.post(f"/api/v1/credit-facilities/{fid}/disbursals", json={"amount": 49_001})
    assert r.status_code == 422 and r.json()["code"] == "credit.disbursal_amount_too_large", r.text

    # visibility: history, collateralization history, lists, workflow queries
    events = [e["event_type"] for e in (await http.get(f"/api/v1/credit-facilities/{fid}/history")).json()]
    assert events[:5] == ["proposal_created", "customer_approval_concluded", "proposal_concluded",
                          "pending_facility_created", "collateral_updated"]
    assert "facility_activated" in events and "disbursal_concluded" in events
    states = [h["state"] for h in (await http.get(f"/api/v1/credit-facilities/{fid}/collateralization-history")).json()]
    assert states == ["UNDER_COLLATERALIZED", "FULLY_COLLATERALIZED", "FULLY_COLLATERALIZED"]
    updates = (await http.get(f"/api/v1/credit-facilities/{fid}/collateral-updates")).json()
    assert [u["collateral"] for u in updates] == [2_000_000, 2_333_333, 2_333_334]
    listed = (await http.get("/api/v1/credit-facilities?status=Active")).json()["items"]
    assert [f["id"] for f in listed] == [fid]
    disb = (await http.get(f"/api/v1/disbursals?credit_facility_id={fid}")).json()["items"]
    assert sorted(d["amount"] for d in disb) == [1_000, 50_000]
    from workflows.credit_facility import CreditFacilityWorkflow, facility_workflow_id

    handle = stack.client.get_workflow_handle(facility_workflow_id(fid))
    summary = await handle.query(CreditFacilityWorkflow.summary)
    assert (summary.status, summary.remaining_cents, summary.disbursed_cents) == ("Active", 49_000, 51_000)

    audit = (await http.get("/api/v1/audit-entries", params={"subject": "system:credit"})).json()["items"]
    actions = sorted(e["action"] for e in audit)
    assert actions == sorted(["credit:credit-facility:conclude-approval-process", "credit:credit-facility:activate",
                              "credit:disbursal:settle"])  # the initial disbursal is part of activation
    assert all(e["workflow_id"] == facility_workflow_id(fid) for e in audit)

    # obligations (credit.md §5/§13): the initial disbursal's is referenced initial-disbursal-{id}
    from sqlalchemy import select

    from activities.credit.tables import obligations

    initial = next(d["id"] for d in disb if d["is_initial"])
    later = next(d["id"] for d in disb if not d["is_initial"])
    async with stack.engine.connect() as conn:
        refs = dict((await conn.execute(select(obligations.c.disbursal_id, obligations.c.reference).where(
            obligations.c.facility_id == fid))).all())
    assert refs == {initial: f"initial-disbursal-{initial}", later: f"disbursal-{later}"}
