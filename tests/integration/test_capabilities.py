"""``capabilities`` on the main resource reads: the caller's permissions AND the aggregate's predicate
on the current state; decided silently (the read's one audit entry, none per flag)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.harness import Stack
from tests.integration.credit.facility_helpers import (
    PRICE,
    active_facility,
    committee,
    customer_with_deposit,
    propose,
    set_price,
    vote,
)
from tests.integration.deposits_helpers import deposit, open_account, wait_status, withdraw

API = "/api/v1"
SINGLE = {"disbursal_policy": "SingleDisbursal", "one_time_fee_rate": "0"}


@pytest.fixture
async def cap_stack(db_url, engine, ts_env):
    async with Stack.start(db_url, engine, ts_env.client, kyc_required=False) as stack:
        yield stack


async def _caps(client, path: str) -> dict[str, bool]:
    r = await client.get(f"{API}/{path}")
    assert r.status_code == 200, r.text
    return r.json()["capabilities"]


async def test_withdrawal_and_account_flags_follow_state_and_role(cap_stack):
    stack, http = cap_stack, cap_stack.http
    viewer = await stack.client_for("viewer@bank.test", "accountant")
    customer_id, account = await customer_with_deposit(stack)
    assert (await deposit(stack, str(account), 10_000)).status_code == 201
    wid = (await withdraw(stack, str(account), 4_000)).json()["id"]
    await wait_status(stack, wid, "PENDING_CONFIRMATION")

    assert await _caps(http, f"withdrawals/{wid}") == {"confirm": True, "cancel": True, "revert": False,
                                                       "approve": False, "deny": False}  # auto-approved
    assert not any((await _caps(viewer, f"withdrawals/{wid}")).values())  # a viewer may run none
    assert (await http.post(f"{API}/withdrawals/{wid}/confirm")).status_code == 200
    assert await _caps(http, f"withdrawals/{wid}") == {"confirm": False, "cancel": False, "revert": True,
                                                       "approve": False, "deny": False}

    acc = await _caps(http, f"deposit-accounts/{account}")
    assert acc == {"record_deposit": True, "initiate_withdrawal": True, "freeze": True, "unfreeze": False,
                   "close": False}  # 6_000 left: the zero-balance rule refuses closing
    assert not any((await _caps(viewer, f"deposit-accounts/{account}")).values())
    assert (await http.post(f"{API}/deposit-accounts/{account}/freeze")).status_code == 200
    assert await _caps(http, f"deposit-accounts/{account}") == {
        "record_deposit": False, "initiate_withdrawal": False, "freeze": False, "unfreeze": True, "close": False}

    cust = await _caps(http, f"customers/{customer_id}")
    assert cust == {"start_kyc": True, "update_contact": True, "freeze": True, "unfreeze": False,
                    "close": False}  # an open deposit account blocks closing

    # the flags are silent: one audit entry for the read, whatever the number of flags
    r = await http.get(f"{API}/customers/{customer_id}", headers={"x-request-id": "caps-audit-1"})
    assert r.status_code == 200
    async with stack.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT action FROM audit_entries WHERE request_id = 'caps-audit-1'"))).all()
    assert [r.action for r in rows] == ["customer:customer:read"]


async def test_facility_flags_at_each_stage(cap_stack):
    stack, http = cap_stack, cap_stack.http
    await set_price(stack.engine, PRICE)
    customer_id, _ = await customer_with_deposit(stack)
    proposal = (await propose(http, customer_id, 100_000, accept=False)).json()
    caps = await _caps(http, f"credit-facility-proposals/{proposal['id']}")
    assert caps["customer_decision"] is True
    assert not any(v for k, v in caps.items() if k != "customer_decision"), caps

    fid, _, _ = await active_facility(stack, 100_000, **SINGLE)
    caps = await _caps(http, f"credit-facilities/{fid}")
    assert caps == {"customer_decision": False, "update_collateral": True,
                    "initiate_disbursal": False,  # a single-disbursal facility drew it all at activation
                    "record_payment": True, "complete": False,  # 100_000 outstanding
                    "approve": False, "deny": False}
    viewer = await stack.client_for("viewer@bank.test", "accountant")
    assert not any((await _caps(viewer, f"credit-facilities/{fid}")).values())
    # the same loan, multi-disbursal: a disbursal can be initiated
    fid2, _, _ = await active_facility(stack, 100_000)
    assert (await _caps(http, f"credit-facilities/{fid2}"))["initiate_disbursal"] is True


async def test_a_vote_flag_needs_an_open_process_the_caller_may_vote_on(cap_stack):
    stack, http = cap_stack, cap_stack.http
    voter = await committee(stack, "withdraw")
    account = await open_account(stack)
    assert (await deposit(stack, account, 10_000)).status_code == 201
    wid = (await withdraw(stack, account, 1_000)).json()["id"]
    await wait_status(stack, wid, "PENDING_APPROVAL")
    assert await _caps(voter, f"approval-processes/{wid}") == {"approve": True, "deny": True}
    caps = await _caps(voter, f"withdrawals/{wid}")
    assert (caps["approve"], caps["deny"], caps["confirm"]) == (True, True, False)  # not approved yet
    # the superuser is no member of the committee: the permission alone is not enough
    assert await _caps(http, f"approval-processes/{wid}") == {"approve": False, "deny": False}
    await vote(voter, wid)  # retried while the approval workflow is still starting (503)
    await wait_status(stack, wid, "PENDING_CONFIRMATION")
    assert await _caps(voter, f"approval-processes/{wid}") == {"approve": False, "deny": False}
    # a settled disbursal has no vote left
    await set_price(stack.engine, PRICE)
    fid, _, _ = await active_facility(stack, 100_000, **SINGLE)
    [d] = (await http.get(f"{API}/disbursals", params={"credit_facility_id": fid})).json()["items"]
    assert await _caps(http, f"disbursals/{d['id']}") == {"approve": False, "deny": False}
