"""Fiscal years (month close blocks back-dating, year close to retained earnings) and manual transactions."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import text

from activities import ledger
from activities.accounting import statements
from tests.integration.accounting_helpers import account_under, default_chart
from tests.integration.test_accounting_statements import check_known_figures, known_scenario

D = dt.date


def _at(stack, day: dt.date) -> None:
    stack.app.state.clock = lambda: dt.datetime(day.year, day.month, day.day, 12, tzinfo=dt.UTC).timestamp()


def _entry(ref, amount, direction, currency="USD"):
    return {"account_ref": ref, "amount": amount, "currency": currency, "direction": direction}


async def _tx_count(engine) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(text("SELECT count(*) FROM ledger_transactions"))).scalar_one()


async def test_known_scenario_with_the_accrual_posted_through_the_api(stack, engine):
    async def accrual():
        r = await stack.http.post("/api/v1/manual-transactions", json={
            "description": "Accrue February interest", "effective": "2026-02-28", "reference": "ACCR-2026-02",
            "entries": [_entry("62.01", "1234.56", "debit"), _entry("21.01.0103", "1234.56", "credit")]})
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["reference"] == "ACCR-2026-02" and r.headers["location"].endswith(body["id"])
        assert sorted((e["direction"], e["units"]) for e in body["entries"]) == [("CREDIT", 123_456), ("DEBIT", 123_456)]
        again = await stack.http.post("/api/v1/manual-transactions", json={
            "description": "Accrue February interest", "effective": "2026-02-28", "reference": "ACCR-2026-02",
            "entries": [_entry("62.01", "1234.56", "debit"), _entry("21.01.0103", "1234.56", "credit")]})
        assert again.status_code == 201 and again.json()["id"] == body["id"]

    await known_scenario(engine, post_accrual=accrual)
    async with engine.connect() as conn:
        await check_known_figures(conn)


async def test_manual_transaction_rejections_post_nothing(stack, engine):
    nodes = await default_chart(engine)
    http = stack.http
    before = await _tx_count(engine)
    cases = [
        ([_entry("61.02", "10.00", "debit"), _entry("21.01.0102", "9.99", "credit")], "ledger.unbalanced_transaction"),
        ([_entry("61.02", "10.00", "debit"), _entry("21.01.0199", "10.00", "credit")],
         "accounting.code_not_found_in_chart"),
        ([_entry("61", "10.00", "debit"), _entry("21.01.0102", "10.00", "credit")], "accounting.non_leaf_account"),
        ([_entry(str(uuid.uuid4()), "10.00", "debit"), _entry("21.01.0102", "10.00", "credit")],
         "accounting.unknown_account"),
        ([_entry("61.02", "10.001", "debit"), _entry("21.01.0102", "10.001", "credit")],
         "accounting.invalid_manual_transaction"),
        ([_entry("61.02", "0", "debit"), _entry("21.01.0102", "0", "credit")], "accounting.invalid_manual_transaction"),
        # the schema bounds the format: sign, letters, and more than 28 significant digits (once a 500)
        ([_entry("61.02", "-1", "debit"), _entry("21.01.0102", "-1", "credit")], "common.validation_failed"),
        ([_entry("61.02", "abc", "debit"), _entry("21.01.0102", "abc", "credit")], "common.validation_failed"),
        ([_entry("61.02", "1" * 29, "debit"), _entry("21.01.0102", "1" * 29, "credit")], "common.validation_failed"),
        ([_entry("61.02", "1." + "0" * 30, "debit"), _entry("21.01.0102", "1." + "0" * 30, "credit")],
         "common.validation_failed"),
    ]
    for entries, code in cases:
        r = await http.post("/api/v1/manual-transactions",
                            json={"description": "x", "effective": "2026-01-10", "entries": entries})
        assert r.status_code == 422, (code, r.text)
        assert r.json()["code"] == code, r.text
    assert await _tx_count(engine) == before
    async with engine.connect() as conn:  # no manual account was left behind by the rejected requests
        assert (await conn.execute(text("SELECT count(*) FROM ledger_accounts WHERE name LIKE '%Manual'"))).scalar() == 0
    # BTC: 8 decimals, into a leaf node's manual account; a deposit-style account id is accepted as-is
    acct = await account_under(engine, "11.01.0102")
    r = await http.post("/api/v1/manual-transactions", json={
        "description": "BTC reclass", "effective": "2026-01-10", "reference": "BTC-1",
        "entries": [_entry(str(acct), "0.00000001", "debit", "BTC"), _entry("72.02", "0.00000001", "credit", "BTC")]})
    assert r.status_code == 201, r.text
    r = await http.post("/api/v1/manual-transactions", json={
        "description": "other", "effective": "2026-01-10", "reference": "BTC-1",
        "entries": [_entry(str(acct), "0.00000002", "debit", "BTC"), _entry("72.02", "0.00000002", "credit", "BTC")]})
    assert r.status_code == 409
    async with engine.connect() as conn:
        bal = await ledger.set_balances(conn, nodes["72.02"].account_set_id)
        assert bal["BTC"].settled == 1
    listed = (await http.get("/api/v1/manual-transactions")).json()
    assert [m["reference"] for m in listed["items"]] == ["BTC-1"]


async def test_fiscal_year_lifecycle(stack, engine):
    await default_chart(engine)
    http = stack.http
    rev, exp = await account_under(engine, "41.01.0101"), await account_under(engine, "61.02")
    cash = await account_under(engine, "11.01.0101")
    _at(stack, D(2025, 2, 15))
    r = await http.post("/api/v1/fiscal-years", json={"opened_as_of": "2025-01-01"})
    assert r.status_code == 201, r.text
    fy = r.json()
    assert (fy["year"], fy["closes_as_of"]) == (2025, "2025-12-31")
    again = await http.post("/api/v1/fiscal-years", json={"opened_as_of": "2025-06-01"})
    assert again.json()["id"] == fy["id"]  # no-op once a year exists

    async def transfer(dr, cr, cents, day, key):
        await ledger.post(engine, "TRANSFER", {"from_account_id": dr, "to_account_id": cr, "amount": cents},
                          idempotency_key=key, effective=day)

    await transfer(cash, rev, 1_000_00, D(2025, 1, 20), "fy:rev")
    await transfer(exp, cash, 300_00, D(2025, 1, 25), "fy:exp")
    # before the opening date nothing can be posted
    before = await http.post("/api/v1/manual-transactions", json={
        "description": "too early", "effective": "2024-12-31",
        "entries": [_entry("61.02", "1.00", "debit"), _entry("11.01.0101", "1.00", "credit")]})
    assert before.status_code == 422 and before.json()["code"] == "accounting.period_closed"

    url = f"/api/v1/fiscal-years/{fy['id']}"
    r = await http.post(f"{url}/close-month")
    assert r.status_code == 200 and r.json()["last_closed_month"] == "2025-01-31"
    r = await http.post(f"{url}/close-month")
    assert r.status_code == 422 and r.json()["code"] == "accounting.month_has_not_ended"
    r = await http.post("/api/v1/manual-transactions", json={
        "description": "back-dated", "effective": "2025-01-31",
        "entries": [_entry("61.02", "1.00", "debit"), _entry("11.01.0101", "1.00", "credit")]})
    assert r.status_code == 422 and r.json()["code"] == "accounting.period_closed", r.text
    assert "closed through 2025-01-31" in r.json()["detail"]
    r = await http.post("/api/v1/manual-transactions", json={
        "description": "open period", "effective": "2025-02-01",
        "entries": [_entry("61.02", "50.00", "debit"), _entry("11.01.0101", "50.00", "credit")]})
    assert r.status_code == 201, r.text

    r = await http.post(f"{url}/close")
    assert r.status_code == 422 and r.json()["code"] == "accounting.last_month_not_closed"
    _at(stack, D(2026, 1, 2))
    for _ in range(11):
        assert (await http.post(f"{url}/close-month")).status_code == 200
    r = await http.post(f"{url}/close-month")
    assert r.status_code == 422 and r.json()["code"] == "accounting.all_months_closed"
    # the next year is not open yet
    r = await http.post("/api/v1/manual-transactions", json={
        "description": "new year", "effective": "2026-01-02",
        "entries": [_entry("61.02", "1.00", "debit"), _entry("11.01.0101", "1.00", "credit")]})
    assert r.status_code == 422 and r.json()["code"] == "accounting.fiscal_year_not_open"

    r = await http.post(f"{url}/close")
    assert r.status_code == 200, r.text
    closed = r.json()
    assert closed["closed_as_of"] == "2025-12-31" and closed["closing_tx_id"]
    assert (await http.post(f"{url}/close")).json()["closing_tx_id"] == closed["closing_tx_id"]  # idempotent
    async with engine.connect() as conn:
        bs = await statements.balance_sheet(conn, D(2025, 12, 31), "USD")
        pl = await statements.profit_and_loss(conn, D(2025, 1, 1), D(2025, 12, 31), "USD")
        tx = await ledger.get_transaction(conn, uuid.UUID(closed["closing_tx_id"]))
    # net income 1,000.00 − 300.00 − 50.00 = 650.00, now in retained earnings (gain node 32.01)
    assert pl["net_income"] == 650_00  # the P&L leaves the closing transaction out
    assert bs["equity"]["current_earnings"] == 0 and bs["balanced"]
    equity = {ln["code"]: ln["balance"] for ln in bs["equity"]["lines"]}
    assert equity["32.01"] == 650_00 and equity["3"] == 650_00
    assert tx["effective"] == D(2025, 12, 31) and tx["metadata"]["is_closing_tx"] is True
    assert sum(e["units"] for e in tx["entries"] if e["direction"] == "debit") == \
        sum(e["units"] for e in tx["entries"] if e["direction"] == "credit") == 1_000_00

    r = await http.post(f"{url}/open-next")
    assert r.status_code == 200 and r.json()["year"] == 2026 and r.json()["opened_as_of"] == "2026-01-01"
    assert (await http.post(f"{url}/open-next")).json()["id"] == r.json()["id"]
    r = await http.post("/api/v1/manual-transactions", json={
        "description": "new year", "effective": "2026-01-02",
        "entries": [_entry("61.02", "1.00", "debit"), _entry("11.01.0101", "1.00", "credit")]})
    assert r.status_code == 201, r.text
    assert (await http.get("/api/v1/fiscal-years/by-year/2026")).json()["opened_as_of"] == "2026-01-01"
    assert [y["year"] for y in (await http.get("/api/v1/fiscal-years")).json()["items"]] == [2026, 2025]
    assert (await http.get("/api/v1/fiscal-years/by-year/2030")).status_code == 404


async def test_a_posting_racing_a_month_close_cannot_land_in_the_closed_month(engine):
    import asyncio

    from activities.accounting import fiscal_years
    from domain.accounting.errors import PeriodClosed

    await default_chart(engine)
    a, b = await account_under(engine, "11.01.0101"), await account_under(engine, "31.01")
    async with engine.begin() as conn:
        fy, _ = await fiscal_years.init_first(conn, D(2025, 1, 1))
    closing = await engine.connect()
    tx = await closing.begin()
    await fiscal_years.close_month(closing, fy["id"], D(2025, 3, 1), dt.datetime.now(dt.UTC))  # not committed yet
    posting = asyncio.create_task(ledger.post(engine, "TRANSFER", {"from_account_id": a, "to_account_id": b,
                                                                   "amount": 1}, idempotency_key="race",
                                              effective=D(2025, 1, 15)))
    await asyncio.sleep(0.3)
    assert not posting.done()  # held by the close until it commits
    await tx.commit()
    await closing.close()
    try:
        await posting
    except PeriodClosed:
        pass
    else:
        raise AssertionError("a posting dated in the month being closed was accepted")
    assert await _tx_count(engine) == 0


async def test_bootstrap_opens_fiscal_years_from_inception_through_today(stack, engine):
    """Regression (new-user #2): a fresh bank had no fiscal year, and a year opened in the past
    refused every posting after its end. Bootstrap opens inception → today's year, idempotently."""
    from workers.bootstrap import seed_fiscal_years

    await default_chart(engine)
    today = dt.datetime.now(dt.UTC).date()
    settings = stack.settings.model_copy(update={"accounting_inception_date": D(today.year - 2, 3, 1)})
    await seed_fiscal_years(settings)
    await seed_fiscal_years(settings)  # every start runs it: nothing changes the second time
    years = (await stack.http.get("/api/v1/fiscal-years")).json()["items"]
    assert [(y["year"], y["opened_as_of"]) for y in years] == [
        (today.year, f"{today.year}-01-01"), (today.year - 1, f"{today.year - 1}-01-01"),
        (today.year - 2, f"{today.year - 2}-03-01")]

    def manual(day):
        return stack.http.post("/api/v1/manual-transactions", json={
            "description": "books", "effective": str(day),
            "entries": [_entry("61.02", "1.00", "debit"), _entry("11.01.0101", "1.00", "credit")]})

    assert (await manual(today)).status_code == 201
    r = await manual(D(today.year - 2, 2, 28))
    assert r.status_code == 422 and r.json()["code"] == "accounting.period_closed"
    r = await manual(D(today.year + 1, 1, 1))  # the year end is an operator step (docs/accounting.md)
    assert r.status_code == 422 and r.json()["code"] == "accounting.fiscal_year_not_open"


async def test_opening_a_past_first_year_through_the_api_opens_the_years_since(stack, engine):
    await default_chart(engine)
    _at(stack, D(2026, 5, 1))
    r = await stack.http.post("/api/v1/fiscal-years", json={"opened_as_of": "2024-01-01"})
    assert r.status_code == 201 and r.json()["year"] == 2024
    years = [y["year"] for y in (await stack.http.get("/api/v1/fiscal-years")).json()["items"]]
    assert years == [2026, 2025, 2024]
