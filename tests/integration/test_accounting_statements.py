"""Statements: identities on random postings (hypothesis) and a hand-computed scenario."""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from activities import ledger
from activities.accounting import placement, statements
from domain.accounting.product_sets import DEPOSIT_OMNIBUS, FEE_INCOME, CustomerType, deposit_accounts
from tests.integration import ledger_helpers  # noqa: F401  (registers TEST_MULTI_LEG)
from tests.integration.accounting_helpers import account_under, default_chart

D = dt.date
ON_BALANCE = ["11.01.0101", "11.02.0202", "12.01.0103", "21.01.0101", "21.01.0103", "22.01.0102", "31.01",
              "32.02", "41.01.0101", "41.02", "51.01", "61.02", "62.01"]
OFF_BALANCE = ["71.01", "72.02", "81.01", "81.02"]


async def _accounts(engine):
    await default_chart(engine)
    return ([await account_under(engine, c) for c in ON_BALANCE], [await account_under(engine, c) for c in OFF_BALANCE])


leg = st.tuples(st.booleans(), st.integers(0, 99), st.integers(0, 99), st.integers(1, 10**12),
                st.sampled_from(["USD", "BTC"]), st.integers(0, 120))


@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
@given(legs=st.lists(leg, min_size=1, max_size=12), cut=st.integers(0, 120))
async def test_identities_hold_on_random_postings(engine, legs, cut):
    on, off = await _accounts(engine)
    ids = [str(a) for a in on + off]
    base = D(2026, 1, 1)
    for off_balance, i, j, units, ccy, day in legs:
        pool = list(range(len(on), len(ids))) if off_balance else list(range(len(on)))
        frm, to = pool[i % len(pool)], pool[j % len(pool)]
        await ledger.post(engine, "TEST_MULTI_LEG", {"accounts": ids, "legs": [[frm, to, units, ccy, "settled"]]},
                          idempotency_key=f"h:{uuid.uuid4()}", effective=base + dt.timedelta(days=day))
    start, until = base + dt.timedelta(days=cut // 2), base + dt.timedelta(days=cut)
    async with engine.connect() as conn:
        for ccy in ("USD", "BTC"):
            tb = await statements.trial_balance(conn, start, until, ccy)
            t = tb["totals"]
            assert t["balanced"] and t["period_debits"] == t["period_credits"]
            assert t["closing_debits"] == t["closing_credits"]
            assert not any(ln["code"] == "unmapped" for ln in tb["lines"])
            bs = await statements.balance_sheet(conn, until, ccy)
            assert bs["balanced"]
            assert bs["assets"]["total"] == bs["liabilities"]["total"] + bs["equity"]["total"]
            pl = await statements.profit_and_loss(conn, start, until, ccy)
            assert pl["net_income"] == pl["revenue"]["total"] - pl["cost_of_revenue"]["total"] - pl["expenses"]["total"]
            # P&L of the period = change of current earnings between the two balance sheets
            before = await statements.balance_sheet(conn, start - dt.timedelta(days=1), ccy)
            assert pl["net_income"] == bs["equity"]["current_earnings"] - before["equity"]["current_earnings"]
            # every node's closing = opening + period, signed by its normal side
            by_code = {ln["code"]: ln for ln in tb["lines"]}
            for ln in tb["lines"]:
                sign = 1 if ln["normal_balance"] == "debit" else -1
                assert ln["closing_balance"] == ln["opening_balance"] + sign * (ln["period_debits"] - ln["period_credits"])
            assert by_code["1"]["closing_balance"] == bs["assets"]["total"]


async def _transfer(engine, dr, cr, cents, day, key):
    await ledger.post(engine, "TRANSFER", {"from_account_id": dr, "to_account_id": cr, "amount": cents},
                      idempotency_key=key, effective=day)


async def known_scenario(engine, post_accrual=None):
    """Equity injection 1,000,000.00; deposits 250,000.00 + 50,000.50; fee income 500.00; a manual
    accrual of interest expense 1,234.56 (posted by ``post_accrual`` or directly)."""
    nodes = await default_chart(engine)
    cash = await account_under(engine, "11.01.0101", name="Bank cash")
    stock = await account_under(engine, "31.01", name="Common stock")
    async with engine.begin() as conn:
        omni = await placement.omnibus_account(conn, DEPOSIT_OMNIBUS)
        fee = await placement.omnibus_account(conn, FEE_INCOME)
        custs = []
        for ct in (CustomerType.INDIVIDUAL, CustomerType.PRIVATE_COMPANY):
            aid = uuid.uuid4()
            await placement.product_account(conn, deposit_accounts(ct), account_id=aid, code=f"DEP.{aid}", name="dep")
            custs.append(aid)
    await _transfer(engine, cash, stock, 100_000_000, D(2026, 1, 5), "s:equity")
    for i, (cust, cents) in enumerate(zip(custs, (25_000_000, 5_000_050), strict=True)):
        await ledger.post(engine, "RECORD_DEPOSIT", {"deposit_omnibus_account_id": omni, "credit_account_id": cust,
                                                     "amount": cents}, idempotency_key=f"s:dep:{i}",
                          effective=D(2026, 2, 10))
    if post_accrual is None:
        exp = await account_under(engine, "62.01", name="Interest expense")
        accrued = await account_under(engine, "21.01.0103", name="Accrued")
        await _transfer(engine, exp, accrued, 123_456, D(2026, 2, 28), "s:accrual")
    else:
        await post_accrual()
    await _transfer(engine, cash, fee, 50_000, D(2026, 3, 3), "s:fee")
    return nodes


async def check_known_figures(conn):
    bs = await statements.balance_sheet(conn, D(2026, 3, 31), "USD")
    assert bs["assets"]["total"] == 130_050_050
    assert bs["liabilities"]["total"] == 30_123_506
    assert bs["equity"]["equity_accounts"] == 100_000_000
    assert bs["equity"]["current_earnings"] == -73_456
    assert bs["equity"]["total"] == 99_926_544
    assert bs["total_liabilities_and_equity"] == 130_050_050 and bs["balanced"]
    lines = {ln["code"]: ln["balance"] for ln in bs["liabilities"]["lines"]}
    assert lines["21.01.0101"] == 30_000_050 and lines["21.01.0103"] == 123_456
    assert {ln["code"]: ln["balance"] for ln in bs["assets"]["lines"]}["11.01.0101"] == 130_050_050

    pl = await statements.profit_and_loss(conn, D(2026, 1, 1), D(2026, 3, 31), "USD")
    assert (pl["revenue"]["total"], pl["cost_of_revenue"]["total"], pl["expenses"]["total"]) == (50_000, 0, 123_456)
    assert pl["net_income"] == -73_456
    feb = await statements.profit_and_loss(conn, D(2026, 2, 1), D(2026, 2, 28), "USD")
    assert (feb["revenue"]["total"], feb["expenses"]["total"], feb["net_income"]) == (0, 123_456, -123_456)

    tb = await statements.trial_balance(conn, D(2026, 2, 1), D(2026, 2, 28), "USD")
    top = {ln["code"]: ln for ln in tb["lines"] if ln["level"] == 0}
    assert top["1"]["opening_balance"] == 100_000_000 and top["1"]["closing_balance"] == 130_000_050
    assert top["2"]["period_credits"] == 30_123_506 and top["6"]["closing_balance"] == 123_456
    assert tb["totals"]["period_debits"] == tb["totals"]["period_credits"] == 30_123_506
    assert tb["totals"]["closing_debits"] == tb["totals"]["closing_credits"] == 130_123_506
    btc = await statements.balance_sheet(conn, D(2026, 3, 31), "BTC")
    assert btc["assets"]["total"] == 0 and btc["balanced"]


async def test_known_scenario_exact_figures(engine):
    await known_scenario(engine)
    async with engine.connect() as conn:
        await check_known_figures(conn)


async def test_statements_api_json_and_csv(stack, engine):
    await known_scenario(engine)
    http = stack.http
    r = await http.get("/api/v1/statements/balance-sheet", params={"as_of": "2026-03-31"})
    assert r.status_code == 200, r.text
    assert r.json()["assets"]["total"] == 130_050_050 and r.json()["balanced"]
    r = await http.get("/api/v1/statements/profit-and-loss", params={"from": "2026-01-01", "until": "2026-03-31",
                                                                     "format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[-1] == ["total", "", "Net Income", "", "-734.56"]
    r = await http.get("/api/v1/statements/trial-balance", params={"from": "2026-02-01", "until": "2026-02-28"})
    assert r.json()["from"] == "2026-02-01" and r.json()["totals"]["balanced"]
    r = await http.get("/api/v1/statements/trial-balance", params={"from": "2026-02-01", "until": "2026-02-28",
                                                                   "format": "csv", "currency": "USD"})
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[-1][:8] == ["TOTAL", "", "", "", "USD", "", "301235.06", "301235.06"]
    r = await http.get("/api/v1/ledger-accounts/by-code/21.01")
    assert r.status_code == 200, r.text
    node = r.json()
    assert node["ancestor_codes"] == ["21", "2"] and node["children_codes"] == ["21.01.0101", "21.01.0102", "21.01.0103"]
    assert {b["currency"]: b["settled"] for b in node["balances"]}["USD"] == 30_123_506
    assert (await http.get("/api/v1/ledger-accounts/by-code/99.99")).status_code == 404
    assert (await http.get("/api/v1/ledger-accounts/by-code/abc")).status_code == 422
    r = await http.get("/api/v1/statements/trial-balance", params={"from": "2026-03-01", "until": "2026-02-28"})
    assert r.status_code == 422 and r.json()["code"] == "accounting.invalid_period"


async def test_account_history_csv(stack, engine):
    await default_chart(engine)
    a, b = await account_under(engine, "11.01.0101"), await account_under(engine, "31.01")
    await _transfer(engine, a, b, 1_001, D(2026, 1, 2), "h:1")
    await _transfer(engine, b, a, 1, D(2026, 1, 3), "h:2")
    r = await stack.http.get(f"/api/v1/ledger-accounts/{a}/history.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [(x["Effective"], x["Debit Amount"], x["Credit Amount"]) for x in rows] == \
        [("2026-01-03", "", "0.01"), ("2026-01-02", "10.01", "")]
    assert (await stack.http.get(f"/api/v1/ledger-accounts/{uuid.uuid4()}/history.csv")).status_code == 404
