"""Denials, refusals and replays of the facility lifecycle, through the API with the worker."""

import asyncio
from datetime import timedelta

from tests.credit_fixtures import terms_json
from tests.harness import Stack
from tests.integration.credit.facility_helpers import (
    PRICE,
    active_facility,
    committee,
    customer_with_deposit,
    deposit_balance,
    propose,
    set_price,
    unverified_customer_with_ledger_deposit,
    vote,
    wait_for,
)
from tests.integration.customers_helpers import create_customer


async def test_proposal_denied_bycommittee(credit_stack):
    stack = credit_stack
    await set_price(stack.engine, PRICE)
    voter = await committee(stack, "credit-facility-proposal")
    customer_id, _ = await customer_with_deposit(stack)
    fid = (await propose(stack.http, customer_id)).json()["id"]
    await vote(voter, fid, approve=False)
    body = await wait_for(lambda: stack.http.get(f"/api/v1/credit-facility-proposals/{fid}"),
                          lambda b: b["proposal_status"] != "PENDING_APPROVAL")
    assert (body["proposal_status"], body["stage"]) == ("DENIED", "DENIED")
    assert (await stack.http.get(f"/api/v1/pending-credit-facilities/{fid}")).status_code == 404
    bal = (await stack.http.get(f"/api/v1/credit-facilities/{fid}/balance")).json()
    assert bal["facility"] == 0  # no accounts, nothing posted
    r = await stack.http.post(f"/api/v1/collaterals/{body['collateral_id']}/manual-update", json={"collateral": 1})
    assert r.status_code == 409 and r.json()["code"] == "credit.collateral_update_not_allowed", r.text


async def test_disbursal_denied_posts_nothing_lasting(credit_stack):
    stack = credit_stack
    await set_price(stack.engine, PRICE)
    fid, _, deposit = await active_facility(stack, one_time_fee_rate="0")
    voter = await committee(stack, "disbursal")
    r = await stack.http.post(f"/api/v1/credit-facilities/{fid}/disbursals", json={"amount": 30_000})
    assert r.status_code == 201, r.text
    did = r.json()["id"]
    assert r.json()["status"] == "NEW"
    bal = (await stack.http.get(f"/api/v1/credit-facilities/{fid}/balance")).json()
    assert (bal["facility_remaining"], bal["uncovered_outstanding"]) == (70_000, 30_000)  # reserved
    await vote(voter, did, approve=False)
    body = await wait_for(lambda: stack.http.get(f"/api/v1/disbursals/{did}"), lambda b: b["status"] != "NEW")
    assert body["status"] == "DENIED"
    bal = (await stack.http.get(f"/api/v1/credit-facilities/{fid}/balance")).json()
    assert (bal["facility_remaining"], bal["uncovered_outstanding"], bal["disbursed"]) == (100_000, 0, 0)
    assert await deposit_balance(stack, deposit) == 0
    events = [e["event_type"] for e in (await stack.http.get(f"/api/v1/disbursals/{did}/history")).json()]
    assert events == ["initiated", "denied", "cancelled"]


async def test_stale_price_refused_and_nothing_recorded(credit_stack):
    stack = credit_stack
    await set_price(stack.engine, PRICE)
    customer_id, _ = await customer_with_deposit(stack)
    body = (await propose(stack.http, customer_id)).json()
    await wait_for(lambda: stack.http.get(f"/api/v1/pending-credit-facilities/{body['id']}"), lambda b: True)
    await set_price(stack.engine, PRICE, age=timedelta(hours=1))
    r = await stack.http.post(f"/api/v1/collaterals/{body['collateral_id']}/manual-update",
                              json={"collateral": 10_000_000})
    assert r.status_code == 503 and r.json()["code"] == "price.stale_price", r.text
    after = (await stack.http.get(f"/api/v1/pending-credit-facilities/{body['id']}")).json()
    assert (after["collateral"], after["stage"]) == (0, "PENDING")
    assert (await stack.http.get(f"/api/v1/credit-facilities/{body['id']}/collateral-updates")).json() == []
    await set_price(stack.engine, PRICE)  # fresh again: the same command now works and activates
    r = await stack.http.post(f"/api/v1/collaterals/{body['collateral_id']}/manual-update",
                              json={"collateral": 10_000_000})
    assert r.status_code == 200 and r.json()["status"] == "ACTIVE", r.text


async def test_invalid_terms_rejected_field_by_field(credit_stack):
    customer_id, _ = await customer_with_deposit(credit_stack)
    r = await propose(credit_stack.http, customer_id, annual_rate="101", margin_call_cvl="150",
                      duration={"period": "MONTHS", "units": 0})
    assert r.status_code == 422 and r.json()["code"] == "credit.invalid_term_values", r.text
    fields = {(e["field"], e["error"]) for e in r.json()["errors"]}
    assert fields == {("annual_rate", "out_of_range"), ("duration", "out_of_range"),
                      ("margin_call_cvl", "margin_call_above_initial_limit")}
    r = await propose(credit_stack.http, customer_id, duration={"period": "DAYS", "units": 3})
    assert r.status_code == 422 and r.json()["code"] == "common.validation_failed"
    listed = (await credit_stack.http.get("/api/v1/credit-facility-proposals")).json()["items"]
    assert listed == []  # nothing was created


async def test_below_margin_and_single_policy_refusals(credit_stack):
    stack = credit_stack
    await set_price(stack.engine, PRICE)
    fid, _, _ = await active_facility(stack, one_time_fee_rate="0")
    await set_price(stack.engine, PRICE // 40)  # collateral now worth $150: CVL(150 / 200) < 125
    r = await stack.http.post(f"/api/v1/credit-facilities/{fid}/disbursals", json={"amount": 20_000})
    assert r.status_code == 422 and r.json()["code"] == "credit.below_margin_limit", r.text
    await set_price(stack.engine, PRICE)
    single, _, deposit = await active_facility(stack, one_time_fee_rate="2", disbursal_policy="SingleDisbursal")
    body = (await stack.http.get(f"/api/v1/credit-facilities/{single}")).json()
    assert (body["drawn"], body["remaining"]) == (100_000, 0)
    assert await deposit_balance(stack, deposit) == 98_000  # full amount in, 2 % fee out
    r = await stack.http.post(f"/api/v1/credit-facilities/{single}/disbursals", json={"amount": 1})
    assert r.status_code == 409 and r.json()["code"] == "credit.only_one_disbursal_allowed", r.text


async def test_concurrent_disbursals_never_exceed_the_facility(credit_stack):
    stack = credit_stack
    await set_price(stack.engine, PRICE)
    fid, _, deposit = await active_facility(stack, amount=100_000, one_time_fee_rate="0")
    rs = await asyncio.gather(*[stack.http.post(f"/api/v1/credit-facilities/{fid}/disbursals",
                                                json={"amount": 30_000}) for _ in range(4)])
    assert sorted(r.status_code for r in rs) == [201, 201, 201, 422]
    ids = [r.json()["id"] for r in rs if r.status_code == 201]
    for did in ids:
        await wait_for(lambda did=did: stack.http.get(f"/api/v1/disbursals/{did}"), lambda b: b["status"] == "CONFIRMED")
    assert await deposit_balance(stack, deposit) == 90_000
    bal = (await stack.http.get(f"/api/v1/credit-facilities/{fid}/balance")).json()
    assert (bal["facility_remaining"], bal["disbursed"]) == (10_000, 90_000)


async def test_replayed_create_and_missing_deposit_account(credit_stack):
    stack = credit_stack
    customer_id, _ = await customer_with_deposit(stack)
    headers = {"Idempotency-Key": "proposal-1"}
    body = {"customer_id": customer_id, "amount": 5_000, "terms": terms_json()}
    first = await stack.http.post("/api/v1/credit-facility-proposals", json=body, headers=headers)
    again = await stack.http.post("/api/v1/credit-facility-proposals", json=body, headers=headers)
    assert first.status_code == again.status_code == 201 and first.json()["id"] == again.json()["id"]
    assert len((await stack.http.get("/api/v1/credit-facility-proposals")).json()["items"]) == 1
    nodeposit = (await create_customer(stack.http))["id"]
    r = await propose(stack.http, nodeposit)
    assert r.status_code == 422 and r.json()["code"] == "credit.deposit_account_not_found", r.text


async def test_unverified_customer_refused(db_url, engine, ts_env):
    async with Stack.start(db_url, engine, ts_env.client, kyc_required=True) as stack:
        customer_id = await unverified_customer_with_ledger_deposit(stack)
        r = await propose(stack.http, customer_id)
        assert r.status_code in (409, 422) and r.json()["code"].startswith("customer."), r.text
