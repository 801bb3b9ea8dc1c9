"""Customer lifecycle through the API with the worker running (api-surface §4 C7–C11):
e-mail / Telegram handle updates, freeze / unfreeze with the deposit accounts, close and its
refusals (customers-deposits.md §4.2), closed is terminal, the status filter, audit entries."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import text

from tests.integration.credit.facility_helpers import (
    PRICE,
    customer_with_deposit,
    propose,
    set_price,
    wait_for,
)
from tests.integration.customers_helpers import create_customer, customer_events, deliver, review
from tests.integration.deposits_helpers import (
    API,
    balance,
    deposit,
    open_account,
    verified_customer,
    wait_status,
    withdraw,
)


async def _event_types(stack, entity_type: str, entity_id: str) -> list[str]:
    return [t for t, _ in await customer_events(stack, entity_id, entity_type)]


async def _audited(stack, obj: str, action: str) -> list[dict]:
    r = await stack.http.get(f"{API}/audit-entries", params={"object": obj, "action": action})
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def _account(stack, account_id: str) -> dict:
    return (await stack.http.get(f"{API}/deposit-accounts/{account_id}")).json()


async def test_email_and_telegram_updates_are_unique_and_idempotent(stack):
    http = stack.http
    a = await create_customer(http, email="first@example.com")
    b = await create_customer(http, email="second@example.com")
    assert a["status"] == "ACTIVE"

    r = await http.put(f"{API}/customers/{a['id']}/email", json={"email": "renamed@example.com"})
    assert r.status_code == 200 and r.json()["email"] == "renamed@example.com", r.text
    assert (await http.get(f"{API}/customers/by-email", params={"email": "RENAMED@example.com"})).json()[
        "id"] == a["id"]
    again = await http.put(f"{API}/customers/{a['id']}/email", json={"email": "renamed@example.com"})
    assert again.status_code == 200 and again.json() == r.json()  # unchanged: nothing recorded
    taken = await http.put(f"{API}/customers/{a['id']}/email", json={"email": "SECOND@example.com"})
    assert taken.status_code == 409 and taken.json()["code"] == "customer.duplicate_email"
    assert (await http.put(f"{API}/customers/{a['id']}/email", json={"email": "nope"})).status_code == 422

    r = await http.put(f"{API}/customers/{a['id']}/telegram-handle", json={"telegram_handle": "@new_handle"})
    assert r.status_code == 200 and r.json()["telegram_handle"] == "new_handle", r.text
    again = await http.put(f"{API}/customers/{a['id']}/telegram-handle", json={"telegram_handle": "new_handle"})
    assert again.status_code == 200
    taken = await http.put(f"{API}/customers/{b['id']}/telegram-handle", json={"telegram_handle": "NEW_HANDLE"})
    assert taken.status_code == 409 and taken.json()["code"] == "customer.duplicate_telegram_handle"
    missing = await http.put(f"{API}/customers/{uuid.uuid4()}/email", json={"email": "z@example.com"})
    assert missing.status_code == 404 and missing.json()["code"] == "customer.not_found"

    assert (await http.get(f"{API}/customers/{b['id']}")).json()["telegram_handle"] == b["telegram_handle"]
    assert await _event_types(stack, "customer", a["id"]) == ["initialized", "email_updated",
                                                               "telegram_handle_updated"]
    assert await _event_types(stack, "customer", b["id"]) == ["initialized"]
    audited = await _audited(stack, f"customer/party/{a['id']}", "customer:party:update")
    # every decision is audited, replays and refusals included (4 e-mail, 2 Telegram calls on a)
    assert len(audited) == 6 and all(e["authorized"] for e in audited)


async def test_freeze_and_unfreeze_carry_the_deposit_accounts(stack):
    http = stack.http
    cid = await verified_customer(stack)
    acct = await open_account(stack, cid)
    assert (await deposit(stack, acct, 120_00)).status_code == 201

    r = await http.post(f"{API}/customers/{cid}/freeze")
    assert r.status_code == 200 and r.json()["status"] == "FROZEN", r.text
    assert (await _account(stack, acct))["status"] == "FROZEN"
    assert (await balance(stack, acct))["frozen"] == 120_00
    again = await http.post(f"{API}/customers/{cid}/freeze")
    assert again.status_code == 200 and again.json()["status"] == "FROZEN"
    refused = await deposit(stack, acct, 1_00)
    assert refused.status_code == 409 and refused.json()["code"] == "deposit.deposit_account_frozen"
    listed = (await http.get(f"{API}/customers", params={"status": "Frozen"})).json()["items"]
    assert [c["id"] for c in listed] == [cid]

    # a Frozen customer takes no new product
    other = await verified_customer(stack)
    assert (await http.post(f"{API}/customers/{other}/freeze")).status_code == 200
    r = await http.post(f"{API}/deposit-accounts", json={"customer_id": other})
    assert r.status_code == 409 and r.json()["code"] == "customer.not_eligible_for_product", r.text

    r = await http.post(f"{API}/customers/{cid}/unfreeze")
    assert r.status_code == 200 and r.json()["status"] == "ACTIVE", r.text
    assert (await _account(stack, acct))["status"] == "ACTIVE"
    assert (await balance(stack, acct))["available"] == 120_00
    assert (await http.post(f"{API}/customers/{cid}/unfreeze")).json()["status"] == "ACTIVE"
    assert (await deposit(stack, acct, 1_00)).status_code == 201

    assert await _event_types(stack, "customer", cid) == ["initialized", "kyc_approved", "frozen", "unfrozen"]
    assert await _event_types(stack, "deposit_account", acct) == ["initialized", "frozen", "unfrozen"]
    for action in ("freeze", "unfreeze"):
        decided = await _audited(stack, f"customer/customer/{cid}", f"customer:customer:{action}")
        assert len(decided) == 2 and not any(e["subject"].startswith("system:") for e in decided)
        followed = await _audited(stack, f"deposit/deposit-account/{acct}", f"deposit:deposit-account:{action}")
        assert [e["subject"] for e in followed] == ["system:customer-sync"]


async def test_a_freeze_racing_deposits_never_deadlocks(stack):
    """Postings lock the customer first too (customer → deposit account → ledger): a freeze racing
    deposits answers each one 201 (before it) or 409 (after it), never a 500 deadlock."""
    cid = await verified_customer(stack)
    acct = await open_account(stack, cid)
    booked = 0
    for _ in range(3):
        *deposits, frozen = await asyncio.gather(*[deposit(stack, acct, 1_00) for _ in range(6)],
                                                 stack.http.post(f"{API}/customers/{cid}/freeze"))
        assert frozen.status_code == 200, frozen.text
        assert {r.status_code for r in deposits} <= {201, 409}, [r.text for r in deposits]
        booked += 1_00 * sum(r.status_code == 201 for r in deposits)
        assert (await balance(stack, acct))["frozen"] == booked
        assert (await stack.http.post(f"{API}/customers/{cid}/unfreeze")).status_code == 200
    assert (await balance(stack, acct))["available"] == booked


async def test_a_kyc_red_still_holds_the_accounts_after_an_unfreeze(cstack):
    http = cstack.http
    cid = (await create_customer(http))["id"]
    await deliver(cstack, cid, review(cid, "GREEN", created_at="2026-01-01 09:00:00.000"))
    acct = await open_account(cstack, cid)
    await deliver(cstack, cid, review(cid, "RED", created_at="2026-01-02 09:00:00.000"))
    assert (await _account(cstack, acct))["status"] == "FROZEN"

    assert (await http.post(f"{API}/customers/{cid}/freeze")).json()["status"] == "FROZEN"
    assert (await http.post(f"{API}/customers/{cid}/unfreeze")).json()["status"] == "ACTIVE"
    assert (await _account(cstack, acct))["status"] == "FROZEN"  # the KYC RED still holds it
    # and a GREEN does not release the accounts of a customer frozen by an operator
    assert (await http.post(f"{API}/customers/{cid}/freeze")).status_code == 200
    await deliver(cstack, cid, review(cid, "GREEN", created_at="2026-01-03 09:00:00.000"))
    assert (await _account(cstack, acct))["status"] == "FROZEN"
    await http.post(f"{API}/customers/{cid}/unfreeze")
    assert (await _account(cstack, acct))["status"] == "ACTIVE"


async def test_close_is_refused_while_deposits_are_open_then_terminal(stack):
    http = stack.http
    cid = await verified_customer(stack)
    acct = await open_account(stack, cid)
    dep = (await deposit(stack, acct, 50_00)).json()
    w = (await withdraw(stack, acct, 50_00)).json()
    await wait_status(stack, w["id"], "PENDING_CONFIRMATION")

    r = await http.post(f"{API}/customers/{cid}/close")
    assert r.status_code == 409 and r.json()["code"] == "customer.has_open_deposit_accounts", r.text
    assert "deposit accounts" in r.json()["detail"]
    # the account's read model says closed (the ledger would never allow it with money reserved):
    # what is still open is then the withdrawal
    async with stack.engine.begin() as conn:
        await conn.execute(text("UPDATE deposit_accounts SET status = 'CLOSED' WHERE id = :a"), {"a": acct})
    r = await http.post(f"{API}/customers/{cid}/close")
    assert r.status_code == 409 and r.json()["code"] == "customer.has_pending_withdrawals", r.text
    async with stack.engine.begin() as conn:
        await conn.execute(text("UPDATE deposit_accounts SET status = 'ACTIVE' WHERE id = :a"), {"a": acct})

    assert (await http.post(f"{API}/withdrawals/{w['id']}/cancel")).json()["status"] == "CANCELLED"
    assert (await http.post(f"{API}/deposits/{dep['id']}/revert")).status_code == 200
    assert (await http.post(f"{API}/deposit-accounts/{acct}/close")).json()["status"] == "CLOSED"
    r = await http.post(f"{API}/customers/{cid}/close")
    assert r.status_code == 200 and r.json()["status"] == "CLOSED", r.text
    again = await http.post(f"{API}/customers/{cid}/close")
    assert again.status_code == 200 and again.json()["status"] == "CLOSED"
    assert (await http.get(f"{API}/customers", params={"status": "CLOSED"})).json()["items"][0]["id"] == cid

    for method, path, body in [("post", "freeze", None), ("post", "unfreeze", None),
                               ("put", "email", {"email": "late@example.com"}),
                               ("put", "telegram-handle", {"telegram_handle": "late"}),
                               ("post", "kyc-link", None)]:
        r = await getattr(http, method)(f"{API}/customers/{cid}/{path}", **({"json": body} if body else {}))
        assert r.status_code == 409 and r.json()["code"] == "customer.is_closed", (path, r.text)
        assert "Closed" in r.json()["detail"]
    r = await http.post(f"{API}/customers/{cid}/documents", files={"file": ("a.pdf", b"%PDF-1", "application/pdf")})
    assert r.status_code == 409 and r.json()["code"] == "customer.is_closed", r.text
    assert await _event_types(stack, "customer", cid) == ["initialized", "kyc_approved", "closed"]
    closed = await _audited(stack, f"customer/customer/{cid}", "customer:customer:close")
    assert len(closed) == 4  # two refusals, the close and its replay: every decision is audited
    assert (await _audited(stack, "credit/credit-facility/*", "credit:credit-facility:list"))


async def test_close_is_refused_while_a_credit_facility_is_open(stack):
    http = stack.http
    await set_price(stack.engine, PRICE)
    cid, _ = await customer_with_deposit(stack)
    r = await propose(http, cid)
    assert r.status_code == 201, r.text
    fid = r.json()["id"]
    await wait_for(lambda: http.get(f"{API}/pending-credit-facilities/{fid}"),
                   lambda b: b["pending_status"] == "PENDING_COLLATERALIZATION")

    async def refused_with(code: str, **row) -> None:
        if row:
            sets = ", ".join(f"{k} = :{k}" for k in row)
            async with stack.engine.begin() as conn:
                await conn.execute(text(f"UPDATE credit_facilities SET {sets} WHERE id = :id"), {"id": fid, **row})
        r = await http.post(f"{API}/customers/{cid}/close")
        assert r.status_code == 409 and r.json()["code"] == code, r.text

    await refused_with("customer.has_pending_credit_facilities")
    # the other stages, set on the read model (driving a facility there is the credit tests' job)
    await refused_with("customer.has_pending_credit_facility_proposals", stage="proposal",
                       proposal_status="PendingApproval")
    await refused_with("customer.has_active_credit_facilities", stage="active", status="Active")
    await refused_with("customer.has_active_credit_facilities", status="Matured")
    await refused_with("customer.has_open_deposit_accounts", status="Closed")
    await refused_with("customer.has_open_deposit_accounts", stage="denied", proposal_status="Denied")
    assert (await http.get(f"{API}/customers/{cid}")).json()["status"] == "ACTIVE"


async def test_lifecycle_commands_need_their_permissions(stack):
    cid = (await create_customer(stack.http))["id"]
    viewer = await stack.client_for("viewer@lifecycle.test", "accountant")
    for method, path, body in [("post", "freeze", None), ("post", "unfreeze", None), ("post", "close", None),
                               ("put", "email", {"email": "v@example.com"}),
                               ("put", "telegram-handle", {"telegram_handle": "v"})]:
        r = await getattr(viewer, method)(f"{API}/customers/{cid}/{path}", **({"json": body} if body else {}))
        assert r.status_code == 403 and r.json()["code"] == "auth.forbidden", (path, r.text)
    assert (await viewer.get(f"{API}/customers/{cid}")).json()["status"] == "ACTIVE"
