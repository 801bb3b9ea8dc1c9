"""The customer portal (docs/portal.md): customer-realm tokens, reads by ownership, one audit entry
per read, and a matrix proving no portal route shows one customer anything of another's."""

from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import text

from api.authn import issue_customer_dev_token, issue_dev_token
from tests.harness import Stack
from tests.integration.credit.facility_helpers import PRICE, set_price
from tests.integration.portal_helpers import API, customer_client, customer_world


@pytest.fixture
async def portal_stack(db_url, engine, ts_env):
    async with Stack.start(db_url, engine, ts_env.client, kyc_required=False) as stack:
        yield stack


def portal_get_paths(app) -> list[str]:
    paths = app.openapi()["paths"]
    found = [p for p, ops in paths.items() if p.startswith(f"{API}/portal/")]
    assert all(set(paths[p]) == {"get"} for p in found), "the portal is read-only"
    return found


async def _audit(engine, subject: str) -> list[tuple[str, str, bool]]:
    async with engine.connect() as conn:
        return [tuple(r) for r in await conn.execute(text(
            "SELECT object, action, authorized FROM audit_entries WHERE subject = :s ORDER BY id"), {"s": subject})]


async def test_no_portal_route_shows_a_customer_anything_of_another(portal_stack):
    stack = portal_stack
    await set_price(stack.engine, PRICE)
    a, b = await customer_world(stack), await customer_world(stack)
    paths = portal_get_paths(stack.app)
    assert {f"{API}/portal/me", f"{API}/portal/credit-facilities/{{facility_id}}", f"{API}/portal/price"} <= set(paths)
    for me, other in ((a, b), (b, a)):
        theirs = set(other["ids"].values())
        subject = f"customer:{me['ids']['customer']}"
        before = len(await _audit(stack.engine, subject))
        reads = 0
        for path in paths:
            params = re.findall(r"{(\w+)}", path)
            if not params:
                r = await me["client"].get(path)
                reads += 1
                assert r.status_code == 200, (path, r.text)
                assert not theirs & set(re.findall(r"[0-9a-f-]{36}", r.text)), path
                continue
            for their_id in theirs:  # every id of the other customer, in every parameter
                r = await me["client"].get(re.sub(r"{\w+}", their_id, path))
                reads += 1
                assert (r.status_code, r.json()["code"]) == (404, "common.not_found"), (path, their_id, r.text)
                assert their_id not in r.json()["detail"] or r.json()["detail"] == f"No credit facility {their_id}."
                assert not (theirs - {their_id}) & set(re.findall(r"[0-9a-f-]{36}", r.text)), path
            if path.endswith("/stream"):
                continue  # an open stream never ends here; tests/integration/credit/test_facility_stream.py reads it
            for own_id in me["ids"].values():  # and the caller's own ids never show the other's data
                r = await me["client"].get(re.sub(r"{\w+}", own_id, path))
                reads += 1
                assert r.status_code in (200, 404), (path, r.text)
                assert not theirs & set(re.findall(r"[0-9a-f-]{36}", r.text)), path
        entries = (await _audit(stack.engine, subject))[before:]
        assert len(entries) == reads  # one audit entry per read, subject the customer
        refused = [e for e in entries if not e[2]]
        assert {e[0] for e in refused} >= {f"portal/credit-facility/{i}" for i in theirs}


async def test_me_and_one_facility_show_the_callers_data(portal_stack):
    stack = portal_stack
    await set_price(stack.engine, PRICE)
    a = await customer_world(stack)
    ids, client = a["ids"], a["client"]
    me = (await client.get(f"{API}/portal/me")).json()
    assert me["customer"]["id"] == ids["customer"] and me["customer"]["kyc_level"] == "BASIC"
    account = me["deposit_account"]
    assert account["account"]["id"] == ids["account"]
    # 100_000 disbursed, 30_000 repaid, 5_000 deposited; the 1_000 withdrawal is reserved (pending)
    assert (account["balance"]["settled"], account["balance"]["pending"]) == (75_000, 1_000)
    assert [d["id"] for d in account["deposits"]] == [ids["deposit"]]
    assert [w["id"] for w in account["withdrawals"]] == [ids["withdrawal"]]
    assert len(account["history"]) >= 4
    [loan] = me["credit_facilities"]
    assert loan["facility"]["id"] == ids["facility"] and loan["facility"]["status"] == "ACTIVE"
    assert loan["facility"]["current_cvl"] is not None and loan["facility"]["terms"]["annual_rate"]
    assert [d["id"] for d in loan["disbursals"]] == [ids["disbursal"]]
    assert [p["id"] for p in loan["payments"]] == [ids["payment"]] and loan["payments"][0]["amount"] == 30_000
    assert loan["balance"]["not_yet_due_disbursed_outstanding"] == 70_000
    assert [(e["initial"], e["outstanding"]) for e in loan["repayment_plan"]
            if e["obligation_type"] == "DISBURSAL"] == [(100_000, 70_000)]
    one = (await client.get(f"{API}/portal/credit-facilities/{ids['facility']}")).json()
    assert one == loan
    assert (await client.get(f"{API}/portal/price")).json()["usd_cents_per_btc"] == PRICE
    missing = await client.get(f"{API}/portal/credit-facilities/{uuid.uuid4()}")
    assert (missing.status_code, missing.json()["code"]) == (404, "common.not_found")
    assert [(o, act) for o, act, ok in await _audit(stack.engine, f"customer:{ids['customer']}") if ok] == [
        (f"portal/me/{ids['customer']}", "portal:me:read"),
        (f"portal/credit-facility/{ids['facility']}", "portal:credit-facility:read"),
        ("portal/price/*", "portal:price:read")]


async def test_each_realm_is_refused_on_the_others_routes_and_audited(portal_stack):
    stack = portal_stack
    r = await stack.http.post(f"{API}/customers", json={"email": "Ann@Example.com", "telegram_handle": "ann",
                                                        "customer_type": "Individual"})
    customer_id = r.json()["id"]
    by_id = issue_customer_dev_token(stack.settings, uuid.UUID(customer_id))
    by_email = issue_customer_dev_token(stack.settings, None, email="ann@example.com")
    for token in (by_id, by_email):
        ok = await customer_client(stack, token).get(f"{API}/portal/me")
        assert ok.status_code == 200 and ok.json()["customer"]["id"] == customer_id, ok.text

    # a customer token never reaches an operator route: 403, audited with the customer as subject
    r = await customer_client(stack, by_id).get(f"{API}/customers/{customer_id}")
    assert (r.status_code, r.json()["code"]) == (403, "auth.forbidden"), r.text
    assert (f"customer/customer/{customer_id}", "customer:customer:read", False) in await _audit(
        stack.engine, f"customer:{customer_id}")

    r = await customer_client(stack, by_email).get(f"{API}/deposit-accounts")
    assert r.status_code == 403, r.text
    assert (await _audit(stack.engine, f"customer:{customer_id}"))[-1] == (
        "deposit/deposit-account/*", "deposit:deposit-account:list", False)  # by e-mail: still the customer's id

    # an operator token never reaches a portal route: 403, audited with the operator as subject
    admin_id = (await stack.http.get(f"{API}/me")).json()["user"]["id"]
    r = await stack.http.get(f"{API}/portal/me")
    assert (r.status_code, r.json()["code"]) == (403, "auth.forbidden"), r.text
    assert ("portal/me/*", "portal:me:read", False) in await _audit(stack.engine, f"user:{admin_id}")

    # the realm is the signer's, whatever id the claims name: an operator's id in a customer token is
    # a customer token, a customer's id in an operator token an operator token; both refused
    forged = issue_customer_dev_token(stack.settings, uuid.UUID(admin_id))
    r = await customer_client(stack, forged).get(f"{API}/me")
    assert (r.status_code, r.json()["detail"]) == (403, "A customer token cannot call an operator route."), r.text
    as_customer = issue_dev_token(stack.settings, uuid.UUID(customer_id))
    r = await customer_client(stack, as_customer).get(f"{API}/portal/me")
    assert (r.status_code, r.json()["detail"]) == (403, "An operator token cannot call a portal route."), r.text

    unknown = issue_customer_dev_token(stack.settings, uuid.uuid4())
    r = await customer_client(stack, unknown).get(f"{API}/portal/me")
    assert (r.status_code, r.json()["detail"]) == (401, "Unknown customer."), r.text
    assert (await stack.anonymous().get(f"{API}/portal/me")).status_code == 401


async def test_lana_token_customer_signs_a_portal_token_by_email(portal_stack):
    import asyncio
    import os
    import subprocess
    import sys

    stack = portal_stack
    r = await stack.http.post(f"{API}/customers", json={"email": "cli@example.com", "telegram_handle": "cli",
                                                        "customer_type": "Individual"})
    customer_id = r.json()["id"]
    lana = os.path.join(os.path.dirname(sys.executable), "lana")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("LANA_")}, "LANA_AUTH_DEV_SIGNING": "true",
           "LANA_DATA_DIR": str(stack.settings.data_dir), "LANA_DATABASE_URL": stack.settings.database_url}

    def run(*args):
        return subprocess.run([lana, "token", *args], env=env, capture_output=True, text=True, timeout=60)

    ok = await asyncio.to_thread(run, "--customer", "CLI@example.com")
    assert ok.returncode == 0, ok.stderr
    me = await customer_client(stack, ok.stdout.strip()).get(f"{API}/portal/me")
    assert me.status_code == 200 and me.json()["customer"]["id"] == customer_id, me.text
    missing = await asyncio.to_thread(run, "--customer", "nobody@example.com")
    assert missing.returncode == 1 and "no customer" in missing.stderr
