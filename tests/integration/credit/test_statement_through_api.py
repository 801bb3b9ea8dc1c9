"""The customer's statement (issue 18 item 5) through the API with the worker running, on the
simulated clock started on 2025-01-15: a $10,000 facility (12 %, monthly cycle, daily accrual,
Act/365F: 329 ¢ a day on the whole principal) activated with 1 BTC, the end of day run to Jan 31
(17 accruals, the January interest posted and due), on Feb 1 a payment of $60 (interest first:
5,593 ¢ to the interest, 407 ¢ to the principal) and the collateral cut to 0.2 BTC (CVL 120 < the
margin call's 125), then Feb 1's end of day (one accrual on 999,593 ¢: 329 ¢).

Every line's kind and running balances are written out by hand; the closing figures equal the
balance summary; the CSV parses to the same lines; pages concatenate to the whole statement. A
second facility is run to default with the end-of-day steps called directly."""

from __future__ import annotations

import base64
import csv
import io
import json
from datetime import date
from decimal import Decimal

from tests.fuzz import CURSOR_PROBES
from tests.harness import Stack
from tests.integration.credit.eod_helpers import activated_facility, run_dates
from tests.integration.credit.facility_helpers import (
    PRICE,
    customer_with_deposit,
    propose,
    set_price,
    wait_for,
)

API = "/api/v1"
ADVANCE = f"{API}/time/advance-to-next-end-of-day"
AMOUNT, DAILY, JAN = 1_000_000, 329, 17 * 329  # 5,593 ¢ of January interest
BTC = 100_000_000
PAYMENT = 6_000
PRINCIPAL_PAID = PAYMENT - JAN  # 407


def _bal(line: dict) -> tuple:
    b = line["balances"]
    return (b["principal_outstanding"], b["interest_outstanding"], b["total_outstanding"], b["accrued_interest"],
            b["defaulted"], b["collateral"])


async def _get(http, path: str, **params):
    r = await http.get(f"{API}{path}", params=params)
    assert r.status_code == 200, r.text
    return r.json()


async def _activate(stack) -> tuple[str, str]:
    http = stack.http
    customer_id, _ = await customer_with_deposit(stack)
    body = (await propose(http, customer_id, AMOUNT, disbursal_policy="SingleDisbursal",
                          one_time_fee_rate="0")).json()
    await wait_for(lambda: http.get(f"{API}/pending-credit-facilities/{body['id']}"),
                   lambda b: b["pending_status"] == "PENDING_COLLATERALIZATION")
    r = await http.post(f"{API}/collaterals/{body['collateral_id']}/manual-update", json={"collateral": BTC})
    assert r.status_code == 200 and r.json()["status"] == "ACTIVE", r.text
    return body["id"], body["collateral_id"]


async def test_statement_lines_running_balances_and_closing_equal_the_balance_summary(db_url, engine, dev_env):
    async with Stack.start(db_url, engine, dev_env.client, kyc_required=False, clock_mode="simulated",
                           simulated_clock_start="2025-01-15T10:00:00Z") as stack:
        http = stack.http
        await set_price(engine, PRICE)
        fid, collateral_id = await _activate(stack)

        r = await http.post(ADVANCE, json={"days": 17})  # Jan 15 … Jan 31
        assert r.status_code == 200, r.text
        assert (await _get(http, "/time"))["business_date"] == "2025-02-01"
        r = await http.post(f"{API}/credit-facilities/{fid}/payments", json={"amount": PAYMENT})
        assert r.status_code == 201, r.text
        assert [a["amount"] for a in r.json()["allocations"]] == [JAN, PRINCIPAL_PAID]
        r = await http.post(f"{API}/collaterals/{collateral_id}/manual-update", json={"collateral": BTC // 5})
        assert r.status_code == 200, r.text
        r = await http.post(ADVANCE, json={"days": 1})  # Feb 1
        assert r.status_code == 200, r.text

        body = await _get(http, f"/credit-facilities/{fid}/statement", first=100)
        assert body["next_cursor"] is None and body["from"] is None and body["until"] == "2025-02-02"
        lines = body["items"]
        got = [(ln["effective"], ln["kind"], ln["amount"], _bal(ln)) for ln in lines]
        p, i = AMOUNT, 0
        expected = [
            ("2025-01-15", "collateral_added", BTC, (0, 0, 0, 0, 0, BTC)),
            ("2025-01-15", "collateralization_changed", 0, (0, 0, 0, 0, 0, BTC)),  # pending: against the amount
            ("2025-01-15", "disbursal_settled", AMOUNT, (AMOUNT, 0, AMOUNT, 0, 0, BTC)),
            ("2025-01-15", "collateralization_changed", 0, (AMOUNT, 0, AMOUNT, 0, 0, BTC)),  # activation
        ]
        expected += [(f"2025-01-{d}", "interest_accrued", DAILY, (p, i, p, (d - 14) * DAILY, 0, BTC))
                     for d in range(15, 32)]
        expected += [
            ("2025-01-31", "interest_posted", JAN, (p, JAN, p + JAN, 0, 0, BTC)),
            ("2025-01-31", "obligation_due", JAN, (p, JAN, p + JAN, 0, 0, BTC)),
            ("2025-02-01", "payment", PAYMENT, (p, JAN, p + JAN, 0, 0, BTC)),
            ("2025-02-01", "payment_allocation", JAN, (p, 0, p, 0, 0, BTC)),
            ("2025-02-01", "payment_allocation", PRINCIPAL_PAID, (p - 407, 0, p - 407, 0, 0, BTC)),
            ("2025-02-01", "collateral_removed", BTC - BTC // 5, (p - 407, 0, p - 407, 0, 0, BTC // 5)),
            ("2025-02-01", "collateralization_changed", 0, (p - 407, 0, p - 407, 0, 0, BTC // 5)),
            ("2025-02-01", "interest_accrued", DAILY, (p - 407, 0, p - 407, DAILY, 0, BTC // 5)),
        ]
        assert got == expected, got
        states = [(ln["collateralization_state"], ln["cvl"], ln["reason"]) for ln in lines
                  if ln["kind"] == "collateralization_changed"]
        assert states == [("FullyCollateralized", "600", "collateral"), ("FullyCollateralized", "600", "activation"),
                          ("UnderMarginCallThreshold", "120", "collateral")], states

        # closing = the last line = the balance summary
        bal = await _get(http, f"/credit-facilities/{fid}/balance")
        closing = body["closing"]
        assert closing == lines[-1]["balances"]
        assert (closing["principal_outstanding"], closing["interest_outstanding"], closing["total_outstanding"],
                closing["accrued_interest"], closing["defaulted"], closing["collateral"]) == (
            bal["disbursed_outstanding"], bal["interest_outstanding"], bal["total_outstanding"],
            bal["interest_accrued"], bal["disbursed_defaulted"] + bal["interest_defaulted"], bal["collateral"])
        assert bal["total_outstanding"] == AMOUNT - PRINCIPAL_PAID and bal["collateral"] == BTC // 5

        # the repayment plan after the payment: the paid interest, the partly paid principal, the rest
        plan = await _get(http, f"/credit-facilities/{fid}/repayment-plan")
        assert [(e["obligation_type"], e["status"], e["initial"], e["outstanding"], e["paid"], e["accrual_cycle_idx"],
                 e["due_date"]) for e in plan] == [
            ("INTEREST", "PAID", JAN, 0, JAN, 1, "2025-01-31"),
            ("INTEREST", "UPCOMING", 28 * DAILY, 28 * DAILY, 0, 2, "2025-02-28"),  # ceil(999,593 × 12 / 36,500)
            ("INTEREST", "UPCOMING", 31 * DAILY, 31 * DAILY, 0, 3, "2025-03-31"),
            ("INTEREST", "UPCOMING", 15 * DAILY, 15 * DAILY, 0, 4, "2025-04-15"),
            ("DISBURSAL", "NOT_YET_DUE", AMOUNT, AMOUNT - PRINCIPAL_PAID, PRINCIPAL_PAID, None, "2025-04-15")]

        # a window: opening at Feb 1, only that day's lines
        day = await _get(http, f"/credit-facilities/{fid}/statement", **{"from": "2025-02-01", "until": "2025-02-01"})
        assert _bal({"balances": day["opening"]}) == (p, JAN, p + JAN, 0, 0, BTC)
        assert [ln["kind"] for ln in day["items"]] == [k for d, k, _, _ in expected if d == "2025-02-01"]
        assert day["closing"] == lines[-1]["balances"]
        jan = await _get(http, f"/credit-facilities/{fid}/statement", until="2025-01-31")
        assert jan["closing"] == lines[len(expected) - 7]["balances"]  # after January's obligation went due

        # pages of 4 concatenate to the same lines, each running on from the previous page
        paged, cursor = [], None
        while True:
            params = {"first": 4, **({"after": cursor} if cursor else {})}
            page = await _get(http, f"/credit-facilities/{fid}/statement", **params)
            paged += page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert paged == lines

        # CSV: same lines, major units
        for kwargs in ({"params": {"format": "csv"}}, {"headers": {"Accept": "text/csv"}}):
            r = await http.get(f"{API}/credit-facilities/{fid}/statement", **kwargs)
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv"), r.text
            assert r.headers["content-disposition"].startswith("attachment; filename=\"credit-facility-")
            rows = list(csv.DictReader(io.StringIO(r.text)))
            opening, *rows, closing_row = rows
            assert (opening["kind"], opening["effective"], opening["total_outstanding_usd"]) == ("opening", "", "0.00")
            assert (closing_row["kind"], closing_row["effective"]) == ("closing", "2025-02-02")
            assert Decimal(closing_row["total_outstanding_usd"]) * 100 == closing["total_outstanding"]
            assert Decimal(closing_row["collateral_btc"]) * BTC == closing["collateral"]
            assert [(row["effective"], row["kind"]) for row in rows] == [(ln["effective"], ln["kind"]) for ln in lines]
            for row, ln in zip(rows, lines, strict=True):
                scale = 10 ** (8 if ln["currency"] == "BTC" else 2)
                assert Decimal(row["amount"]) * scale == ln["amount"]
                assert Decimal(row["total_outstanding_usd"]) * 100 == ln["balances"]["total_outstanding"]
                assert Decimal(row["accrued_interest_usd"]) * 100 == ln["balances"]["accrued_interest"]
                assert Decimal(row["collateral_btc"]) * BTC == ln["balances"]["collateral"]
                assert row["ledger_transaction_id"] == (ln["ledger_transaction_id"] or "")

        # refusals
        r = await http.get(f"{API}/credit-facilities/{fid}/statement", params={"from": "2025-02-02", "until": "2025-02-01"})
        assert r.status_code == 422 and r.json()["code"] == "credit.invalid_statement_period", r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        r = await http.get(f"{API}/credit-facilities/00000000-0000-0000-0000-000000000000/statement")
        assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json"), r.text
        assert r.json()["code"] == "credit.facility_not_found"
        r = await http.get(f"{API}/credit-facilities/{fid}/statement", params={"after": "bm90IGEgY3Vyc29y"})
        assert r.status_code == 422 and r.json()["code"] == "common.invalid_cursor", r.text


async def test_overdue_and_defaulted_obligations_in_the_statement_and_its_closing(credit_stack):
    """A one-month facility whose obligations go overdue 2 days and default 5 days after they fall
    due, the end of day run date by date to past the default: the statement's transitions, its
    defaulted figure and its closing equal the balance summary."""
    stack, http = credit_stack, credit_stack.http
    fid, _ = await activated_facility(stack, date(2025, 1, 15), AMOUNT, one_time_fee_rate="0",
                                      disbursal_policy="SingleDisbursal", duration={"period": "MONTHS", "units": 1},
                                      obligation_overdue_duration_from_due={"period": "DAYS", "units": 2},
                                      obligation_liquidation_duration_from_due={"period": "DAYS", "units": 5})
    runs = await run_dates(stack.engine, date(2025, 1, 15), date(2025, 2, 25))
    assert all(r.failures == [] for r in runs)
    body = await _get(http, f"/credit-facilities/{fid}/statement", first=100)
    kinds = [ln["kind"] for ln in body["items"]]
    # January's interest (Jan 31) and February's with the principal (Feb 15): due, overdue, defaulted each
    assert [(ln["effective"], ln["kind"]) for ln in body["items"] if ln["kind"].startswith("obligation_")] == [
        ("2025-01-31", "obligation_due"), ("2025-02-02", "obligation_overdue"), ("2025-02-05", "obligation_defaulted"),
        ("2025-02-15", "obligation_due"), ("2025-02-15", "obligation_due"),
        ("2025-02-17", "obligation_overdue"), ("2025-02-17", "obligation_overdue"),
        ("2025-02-20", "obligation_defaulted"), ("2025-02-20", "obligation_defaulted")], kinds
    bal = await _get(http, f"/credit-facilities/{fid}/balance")
    closing = body["closing"]
    assert closing == body["items"][-1]["balances"]
    assert (closing["principal_outstanding"], closing["interest_outstanding"], closing["total_outstanding"],
            closing["accrued_interest"], closing["defaulted"], closing["collateral"]) == (
        bal["disbursed_outstanding"], bal["interest_outstanding"], bal["total_outstanding"],
        bal["interest_accrued"], bal["disbursed_defaulted"] + bal["interest_defaulted"], bal["collateral"])
    assert closing["total_outstanding"] == 0 and closing["defaulted"] == AMOUNT + 32 * DAILY  # Jan 15 … Feb 15

    # the repo's crafted cursors (and a well-shaped one with a bad date) are 422, never a 500
    bad_date = base64.urlsafe_b64encode(json.dumps(["2025-13-01", "2025-01-01T00:00:00+00:00", 0, "x"]).encode())
    for cursor in (*CURSOR_PROBES, bad_date.decode()):
        r = await http.get(f"{API}/credit-facilities/{fid}/statement", params={"after": cursor})
        assert r.status_code == 422 and r.json()["code"] == "common.invalid_cursor", (cursor, r.text)
