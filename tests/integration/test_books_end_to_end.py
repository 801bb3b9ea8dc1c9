"""The books across modules: accounting + deposits + credit through the API with the worker running.

Default chart and the base/deposit/credit configs (what `lana dev` loads), an equity injection (manual
transaction), a deposit and an approved + confirmed withdrawal, then a credit facility from proposal
to one approved disbursal. The statements must then balance, see every product account through the
chart (nothing "outside the chart") and show the figures computed here by hand, to the cent/sat.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text

from tests.harness import Stack
from tests.integration.accounting_helpers import default_chart
from tests.integration.credit.facility_helpers import PRICE, deposit_balance, propose, set_price, wait_for
from tests.integration.deposits_helpers import balance, deposit, verified_customer, wait_status, withdraw

API = "/api/v1"

EQUITY = 100_000_000  # $1,000,000.00 paid-in capital
DEPOSIT = 123_456  # $1,234.56
WITHDRAWAL = 20_000  # $200.00
FACILITY = 1_234_567  # $12,345.67
FEE = 12_346  # 1 % of $12,345.67 = $123.4567, rounded up to the cent
DISBURSAL = 500_000  # $5,000.00
COLLATERAL = 50_000_000  # 0.5 BTC = $30,000 at $60,000/BTC: CVL 243 ≥ initial 140


@pytest.fixture
async def books_stack(db_url, engine, ts_env):
    async with Stack.start(db_url, engine, ts_env.client, kyc_required=False) as stack:
        yield stack


async def _unattached_product_sets(engine) -> list[str]:
    """Product sets that hang under no chart node (what 'accounts outside the chart' would be)."""
    async with engine.connect() as conn:
        return list((await conn.execute(text(
            "SELECT s.metadata->>'product_key' FROM ledger_account_sets s WHERE s.external_id LIKE 'product:%'"
            " AND NOT EXISTS (SELECT 1 FROM ledger_set_members m WHERE m.member_set_id = s.id)"
            " ORDER BY 1"))).scalars())


def _lines(statement_lines: list[dict]) -> dict[str, dict]:
    return {ln["code"]: ln for ln in statement_lines}


async def _get(http, path: str, **params) -> dict:
    r = await http.get(f"{API}{path}", params=params)
    assert r.status_code == 200, r.text
    return r.json()


async def _load_chart_and_inject_equity(stack, today: dt.date) -> None:
    nodes = await default_chart(stack.engine)  # chart + base, deposit, credit configs, as `lana dev` does
    assert {"11.01.0101", "11.02.0202", "21.01.0101", "31.01", "41.02", "81.02"} <= set(nodes)
    # Paid-in capital: cash at bank against common stock (manual transaction, leaf chart codes).
    r = await stack.http.post(f"{API}/manual-transactions", json={
        "description": "Equity injection", "effective": today.isoformat(), "reference": "EQUITY-1",
        "entries": [{"account_ref": "11.01.0101", "amount": "1000000.00", "currency": "USD", "direction": "debit"},
                    {"account_ref": "31.01", "amount": "1000000.00", "currency": "USD", "direction": "credit"}]})
    assert r.status_code == 201, r.text


@pytest.mark.parametrize("configs_first", [True, False], ids=["configs-first", "configs-after-products"])
async def test_books_balance_across_deposits_and_credit(books_stack, configs_first):
    """``configs-after-products``: the modules create their product sets before the accounting configs
    exist; applying the configs must attach them all (docs/accounting.md "Using it")."""
    stack, http = books_stack, books_stack.http
    today = dt.datetime.now(dt.UTC).date()
    if configs_first:
        await _load_chart_and_inject_equity(stack, today)

    # Deposits: open an account, deposit $1,234.56, withdraw $200.00 (auto-approved, then confirmed).
    customer_id = await verified_customer(stack)
    r = await http.post(f"{API}/deposit-accounts", json={"customer_id": customer_id})
    assert r.status_code == 201, r.text
    account_id = r.json()["id"]
    r = await deposit(stack, account_id, DEPOSIT)
    assert r.status_code == 201, r.text
    r = await withdraw(stack, account_id, WITHDRAWAL)
    assert r.status_code == 201, r.text
    wid = r.json()["id"]
    await wait_status(stack, wid, "PENDING_CONFIRMATION")
    r = await http.post(f"{API}/withdrawals/{wid}/confirm")
    assert r.status_code == 200 and r.json()["status"] == "CONFIRMED", r.text

    # Credit: proposal → auto-approval → collateral → activation (fee-sized initial disbursal + fee)
    # → one approved disbursal.
    await set_price(stack.engine, PRICE)
    r = await propose(http, customer_id, FACILITY, one_time_fee_rate="1", disbursal_policy="MultipleDisbursal")
    assert r.status_code == 201, r.text
    fid, collateral_id = r.json()["id"], r.json()["collateral_id"]
    await wait_for(lambda: http.get(f"{API}/pending-credit-facilities/{fid}"),
                   lambda b: b["pending_status"] == "PENDING_COLLATERALIZATION")
    r = await http.post(f"{API}/collaterals/{collateral_id}/manual-update", json={"collateral": COLLATERAL})
    assert r.status_code == 200, r.text
    assert (r.json()["stage"], r.json()["status"], r.json()["cvl"]) == ("ACTIVE", "ACTIVE", {"value": "243"})
    r = await http.post(f"{API}/credit-facilities/{fid}/disbursals", json={"amount": DISBURSAL})
    assert r.status_code == 201, r.text
    did = r.json()["id"]
    done = await wait_for(lambda: http.get(f"{API}/disbursals/{did}"), lambda b: b["status"] != "NEW")
    assert done["status"] == "CONFIRMED", done
    if not configs_first:
        assert await _unattached_product_sets(stack.engine)  # nothing to attach them to yet
        await _load_chart_and_inject_equity(stack, today)

    # Figures by hand (cents). Initial disbursal = fee, credited to the deposit account and then the
    # fee debited from it: the deposit account nets the withdrawal and the real disbursal only.
    drawn = FEE + DISBURSAL
    cash = EQUITY + DEPOSIT - WITHDRAWAL
    customer_deposits = DEPOSIT - WITHDRAWAL + FEE - FEE + DISBURSAL
    assets = cash + drawn
    assert (cash, drawn, customer_deposits, assets) == (100_103_456, 512_346, 603_456, 100_615_802)
    assert await deposit_balance(stack, account_id) == customer_deposits
    assert (await balance(stack, account_id))["settled"] == customer_deposits
    fac = await _get(http, f"/credit-facilities/{fid}/balance")
    assert (fac["disbursed"], fac["fee_income"], fac["collateral"]) == (drawn, FEE, COLLATERAL)

    unattached = await _unattached_product_sets(stack.engine)
    # Postings are dated by the workflow clock: all of them must fall on today (nothing skipped ahead).
    async with stack.engine.connect() as conn:
        dates = set((await conn.execute(text("SELECT DISTINCT effective FROM ledger_entries"))).scalars())
    assert dates == {today}, dates
    start, until = today.replace(month=1, day=1), today

    # --- USD ---------------------------------------------------------------------------------
    tb = await _get(http, "/statements/trial-balance", **{"from": start, "until": until, "currency": "USD"})
    t = tb["totals"]
    assert t["balanced"] and t["period_debits"] == t["period_credits"] and t["closing_debits"] == t["closing_credits"]
    lines = _lines(tb["lines"])
    # every product account sits under a chart node (else: which product-set keys no config rule covers)
    assert "unmapped" not in lines, (lines.get("unmapped"), unattached)
    assert unattached == []
    closing = {code: lines[code]["closing_balance"] for code in
               ("1", "11.01.0101", "11.02.0202", "2", "21.01.0101", "21.03", "3", "31.01", "4", "41.01",
                "41.02", "8", "81.01", "81.06")}
    assert closing == {"1": assets, "11.01.0101": cash, "11.02.0202": drawn,
                       "2": customer_deposits, "21.01.0101": customer_deposits, "21.03": 0,
                       "3": EQUITY, "31.01": EQUITY, "4": FEE, "41.01": 0, "41.02": FEE,
                       # off-balance: facility limit used (FAC + omnibus) against uncovered outstanding
                       "8": 0, "81.01": -drawn, "81.06": drawn}
    assert lines["11.01.0101"]["period_debits"] == EQUITY + DEPOSIT
    assert lines["11.01.0101"]["period_credits"] == WITHDRAWAL
    assert lines["21.01.0101"]["period_credits"] == DEPOSIT + drawn
    assert lines["21.01.0101"]["period_debits"] == WITHDRAWAL + FEE

    bs = await _get(http, "/statements/balance-sheet", as_of=until, currency="USD")
    assert bs["balanced"] and bs["assets"]["total"] == bs["total_liabilities_and_equity"]
    assert bs["assets"]["total"] == bs["liabilities"]["total"] + bs["equity"]["total"]
    assert (bs["assets"]["total"], bs["liabilities"]["total"], bs["equity"]["total"]) == (
        assets, customer_deposits, EQUITY + FEE)
    assert (bs["equity"]["equity_accounts"], bs["equity"]["current_earnings"],
            bs["equity"]["current_year_earnings"]) == (EQUITY, FEE, FEE)
    bs_lines = {ln["code"]: ln["balance"] for sec in ("assets", "liabilities", "equity") for ln in bs[sec]["lines"]}
    assert (bs_lines["11.01.0101"], bs_lines["11.02.0202"], bs_lines["21.01.0101"], bs_lines["31.01"]) == (
        cash, drawn, customer_deposits, EQUITY)

    pl = await _get(http, "/statements/profit-and-loss", **{"from": start, "until": until, "currency": "USD"})
    assert (pl["revenue"]["total"], pl["cost_of_revenue"]["total"], pl["expenses"]["total"]) == (FEE, 0, 0)
    assert (pl["gross_profit"], pl["net_income"]) == (FEE, FEE)
    pl_lines = {ln["code"]: ln["balance"] for ln in pl["revenue"]["lines"]}
    assert (pl_lines["41"], pl_lines["41.01"], pl_lines["41.02"]) == (FEE, 0, FEE)

    # --- BTC: collateral is off-balance (81.02: collateral account credited, omnibus debited) -----
    tb = await _get(http, "/statements/trial-balance", **{"from": start, "until": until, "currency": "BTC"})
    t = tb["totals"]
    assert t["balanced"] and (t["period_debits"], t["period_credits"]) == (COLLATERAL, COLLATERAL)
    lines = _lines(tb["lines"])
    assert "unmapped" not in lines, lines.get("unmapped")
    coll = lines["81.02"]
    assert (coll["period_debits"], coll["period_credits"], coll["closing_balance"]) == (COLLATERAL, COLLATERAL, 0)
    assert (lines["8"]["period_credits"], lines["1"]["closing_balance"], lines["2"]["closing_balance"]) == (
        COLLATERAL, 0, 0)
    bs = await _get(http, "/statements/balance-sheet", as_of=until, currency="BTC")
    assert bs["balanced"] and (bs["assets"]["total"], bs["liabilities"]["total"], bs["equity"]["total"]) == (0, 0, 0)
    pl = await _get(http, "/statements/profit-and-loss", **{"from": start, "until": until, "currency": "BTC"})
    assert (pl["revenue"]["total"], pl["net_income"]) == (0, 0)
