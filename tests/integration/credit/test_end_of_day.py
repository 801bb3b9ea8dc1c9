"""The end-of-day steps through the real database (issue 17): interest accrual and cycles,
obligation transitions, maturity, the API's reads and the accounting statements.

Each business date is run with ``run_end_of_day`` (every step, page by page, ``run_page``
directly). The facilities are lana's default product (12 %, 3 months, monthly cycle, daily
accrual, interest due at the cycle's end, overdue after 50 days, default after 360) activated on
2025-01-15 (maturity 2025-04-15) with every figure computed by hand below.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import select, text

from activities import ledger
from activities.credit import operations
from activities.credit.tables import facilities
from domain.credit.end_of_day import FacilityEventKind as K
from domain.credit.errors import DisbursalOnInactiveFacility
from domain.credit.messages import DisbursalInput
from tests.integration.accounting_helpers import default_chart
from tests.integration.credit.eod_helpers import (
    MAX_AGE,
    activated_facility,
    at,
    disburse,
    run_dates,
    run_end_of_day,
)

API = "/api/v1"
JAN15, FEB28, MAR31, APR15 = date(2025, 1, 15), date(2025, 2, 28), date(2025, 3, 31), date(2025, 4, 15)
AMOUNT = 1_000_000  # $10,000.00, drawn at activation (single disbursal), no fee
DAILY = 329  # ceil(1,000,000 × 12 / 36,500) = ceil(328.77)
CYCLES = [(date(2025, 1, 15), date(2025, 1, 31), 17), (date(2025, 2, 1), FEB28, 28),
          (date(2025, 3, 1), MAR31, 31), (date(2025, 4, 1), APR15, 15)]
INTEREST = [days * DAILY for _, _, days in CYCLES]  # 5,593 / 9,212 / 10,199 / 4,935
SINGLE = {"disbursal_policy": "SingleDisbursal", "one_time_fee_rate": "0"}


async def _get(http, path: str, **params) -> dict | list:
    r = await http.get(f"{API}{path}", params=params)
    assert r.status_code == 200, r.text
    return r.json()


async def _obligations(http, fid: str) -> list[dict]:
    return (await _get(http, f"/credit-facilities/{fid}/obligations", direction="asc", first=100))["items"]


async def _statements(http, until: date, layer: str = "SETTLED") -> tuple[dict, dict, dict]:
    period = {"from": date(2025, 1, 1), "until": until, "currency": "USD", "layer": layer}
    tb = await _get(http, "/statements/trial-balance", **period)
    pl = await _get(http, "/statements/profit-and-loss", **period)
    bs = await _get(http, "/statements/balance-sheet", as_of=until, currency="USD", layer=layer)
    return tb, pl, bs


def _lines(section: dict) -> dict[str, int]:
    return {ln["code"]: ln["balance"] for ln in section["lines"]}


async def _check_books(http, until: date, interest_income: int, interest_receivable: int, accrued: int) -> None:
    """Settled: the posted interest in P&L (41.01) and the receivables in the balance sheet
    (11.02.0201 interest, 11.02.0202 principal); pending: the current cycle's accruals. Both
    trial balances net to zero."""
    tb, pl, bs = await _statements(http, until)
    assert tb["totals"]["balanced"] and tb["totals"]["closing_debits"] == tb["totals"]["closing_credits"]
    assert "unmapped" not in {ln["code"] for ln in tb["lines"]}
    assert _lines(pl["revenue"])["41.01"] == interest_income and pl["net_income"] == interest_income
    assets = _lines(bs["assets"])
    assert (assets["11.02.0201"], assets["11.02.0202"]) == (interest_receivable, AMOUNT)
    assert bs["balanced"] and bs["equity"]["current_year_earnings"] == interest_income
    tb, pl, _ = await _statements(http, until, "PENDING")
    assert tb["totals"]["balanced"]
    assert _lines(pl["revenue"])["41.01"] == accrued


def _kinds(runs) -> dict[date, list[str]]:
    return {r.business_date: sorted(e.kind.value for e in r.events) for r in runs if r.events}


async def test_a_three_month_facility_from_activation_to_maturity(credit_stack):
    stack, http = credit_stack, credit_stack.http
    await default_chart(stack.engine)
    fid, _ = await activated_facility(stack, JAN15, AMOUNT, **SINGLE)
    cycles = (await _get(http, f"/credit-facilities/{fid}/accrual-cycles"))["items"]
    assert [(c["idx"], c["start_date"], c["end_date"], c["status"]) for c in cycles] == [
        (1, "2025-01-15", "2025-01-31", "IN_PROGRESS")]  # the first cycle starts at activation

    runs = await run_dates(stack.engine, JAN15, date(2025, 2, 10))
    assert all(r.failures == [] for r in runs)
    assert [r.processed["accrue_interest"] for r in runs] == [1] * len(runs)  # one period a day
    await _check_books(http, date(2025, 2, 10), INTEREST[0], INTEREST[0], 10 * DAILY)  # mid-February
    bal = await _get(http, f"/credit-facilities/{fid}/balance")
    assert (bal["interest_posted"], bal["interest_accrued"], bal["due_interest_outstanding"]) == (
        INTEREST[0], 10 * DAILY, INTEREST[0])

    runs += await run_dates(stack.engine, date(2025, 2, 11), APR15)
    assert all(r.failures == [] for r in runs)
    by_date = {r.business_date: r for r in runs}
    assert sum(r.processed["accrue_interest"] for r in runs) == 91  # every day from Jan 15 to Apr 15
    assert [d for d, r in by_date.items() if r.processed["complete_cycles"]] == [
        date(2025, 1, 31), FEB28, MAR31, APR15]
    assert _kinds(runs) == {
        date(2025, 1, 31): ["interest_obligation_created", "obligation_due"],
        FEB28: ["interest_obligation_created", "obligation_due"],
        date(2025, 3, 22): ["obligation_overdue"],  # the January interest, 50 days after Jan 31
        MAR31: ["interest_obligation_created", "obligation_due"],
        APR15: ["interest_obligation_created", "matured", "obligation_due", "obligation_due"]}
    created = [e for r in runs for e in r.events if e.kind is K.INTEREST_OBLIGATION_CREATED]
    assert [(e.detail["amount_cents"], e.detail["due_date"], e.detail["next_accrual_period_end"]) for e in created] == [
        (INTEREST[0], "2025-01-31", "2025-02-01"), (INTEREST[1], "2025-02-28", "2025-03-01"),
        (INTEREST[2], "2025-03-31", "2025-04-01"), (INTEREST[3], "2025-04-15", None)]  # no cycle after maturity

    cycles = (await _get(http, f"/credit-facilities/{fid}/accrual-cycles", direction="asc"))["items"]
    assert [(c["start_date"], c["end_date"], c["status"], c["accrued"], len(c["accruals"])) for c in cycles] == [
        (str(s), str(e), "POSTED", n * DAILY, n) for s, e, n in CYCLES]
    for c in cycles:
        assert {(a["principal"], a["amount"], a["days"]) for a in c["accruals"]} == {(AMOUNT, DAILY, 1)}
        assert [a["period_start"] for a in c["accruals"]] == [a["period_end"] for a in c["accruals"]]
    obligations = await _obligations(http, fid)
    assert [(o["obligation_type"], o["amount"], o["status"], o["due_date"], o["overdue_date"]) for o in obligations] == [
        ("DISBURSAL", AMOUNT, "DUE", "2025-04-15", "2025-06-04"),
        ("INTEREST", INTEREST[0], "OVERDUE", "2025-01-31", "2025-03-22"),
        ("INTEREST", INTEREST[1], "DUE", "2025-02-28", "2025-04-19"),
        ("INTEREST", INTEREST[2], "DUE", "2025-03-31", "2025-05-20"),
        ("INTEREST", INTEREST[3], "DUE", "2025-04-15", "2025-06-04")]
    assert obligations[1]["defaulted_date"] == "2026-01-26"  # Jan 31 + 360 days
    facility = await _get(http, f"/credit-facilities/{fid}")
    assert facility["status"] == "MATURED"

    total = sum(INTEREST)
    assert total == 29_939
    bal = await _get(http, f"/credit-facilities/{fid}/balance")
    assert {k: bal[k] for k in ("disbursed", "not_yet_due_disbursed_outstanding", "due_disbursed_outstanding",
                                "interest_posted", "not_yet_due_interest_outstanding", "due_interest_outstanding",
                                "overdue_interest_outstanding", "interest_accrued", "interest_income",
                                "uncovered_outstanding", "total_outstanding", "total_outstanding_payable",
                                "total_overdue")} == {
        "disbursed": AMOUNT, "not_yet_due_disbursed_outstanding": 0, "due_disbursed_outstanding": AMOUNT,
        "interest_posted": total, "not_yet_due_interest_outstanding": 0,
        "due_interest_outstanding": total - INTEREST[0], "overdue_interest_outstanding": INTEREST[0],
        "interest_accrued": 0, "interest_income": total, "uncovered_outstanding": AMOUNT + total,
        "total_outstanding": AMOUNT + total, "total_outstanding_payable": AMOUNT + total, "total_overdue": INTEREST[0]}
    plan = await _get(http, f"/credit-facilities/{fid}/repayment-plan")
    assert [(e["obligation_type"], e["status"], e["initial"]) for e in plan] == [
        ("INTEREST", "OVERDUE", INTEREST[0]), ("INTEREST", "DUE", INTEREST[1]), ("INTEREST", "DUE", INTEREST[2]),
        ("INTEREST", "DUE", INTEREST[3]), ("DISBURSAL", "DUE", AMOUNT)]  # nothing left to project


@pytest.fixture
async def three_months(credit_stack):
    await default_chart(credit_stack.engine)
    return credit_stack, *(await activated_facility(credit_stack, JAN15, AMOUNT, **SINGLE))


async def test_books_after_every_end_of_day(three_months):
    """The trial balance nets to zero on both layers after every date; at each month end the
    posted interest is in P&L and the receivables in the balance sheet, nothing left pending."""
    stack, fid, _ = three_months
    month_ends = {date(2025, 1, 31): 5_593, FEB28: 14_805, MAR31: 25_004, APR15: 29_939}
    d = JAN15
    while d <= APR15:
        run = await run_end_of_day(stack.engine, d)
        assert run.failures == []
        for layer in ("SETTLED", "PENDING"):
            tb = await _get(stack.http, "/statements/trial-balance", **{
                "from": date(2025, 1, 1), "until": d, "currency": "USD", "layer": layer})
            assert tb["totals"]["balanced"], (d, layer)
        if d in month_ends:
            await _check_books(stack.http, d, month_ends[d], month_ends[d], 0)
        d += timedelta(days=1)


async def test_a_rerun_of_a_date_changes_nothing(three_months):
    stack, fid, _ = three_months
    await run_dates(stack.engine, JAN15, date(2025, 1, 31))

    async def counts():
        async with stack.engine.connect() as conn:
            return tuple([(await conn.execute(text(f"SELECT count(*) FROM {t}"))).scalar_one() for t in (
                "ledger_transactions", "ledger_entries", "events", "credit_interest_accruals",
                "credit_accrual_cycles", "credit_obligations")])

    before = await counts()
    for d in (date(2025, 1, 31), date(2025, 1, 20), JAN15):
        again = await run_end_of_day(stack.engine, d)
        assert sum(again.processed.values()) == 0 and again.events == [] and again.failures == []
    assert await counts() == before


@pytest.mark.parametrize("schedule", ["daily", "missed-week"])
async def test_a_missed_week_caught_up_date_by_date_gives_the_daily_result(credit_stack, schedule):
    """A $1,000 disbursal settles on Feb 6 (effective Feb 6). Daily: the end of day of Feb 4 and 5 ran
    before it. Missed week: nothing ran from Feb 4 to Feb 10; the dates are caught up in order
    after the disbursal. The interest of each day is on the principal of that day either way."""
    stack = credit_stack
    fid, _ = await activated_facility(stack, JAN15, AMOUNT, disbursal_policy="MultipleDisbursal",
                                      one_time_fee_rate="0")  # nothing drawn at activation
    await disburse(stack, fid, 100_000, JAN15)
    await run_dates(stack.engine, JAN15, date(2025, 2, 3))
    if schedule == "daily":
        await run_dates(stack.engine, date(2025, 2, 4), date(2025, 2, 5))
        await disburse(stack, fid, 100_000, date(2025, 2, 6))
    else:
        await disburse(stack, fid, 100_000, date(2025, 2, 6))
        await run_dates(stack.engine, date(2025, 2, 4), date(2025, 2, 5))
    runs = await run_dates(stack.engine, date(2025, 2, 6), FEB28)
    assert all(r.failures == [] for r in runs)
    cycles = (await _get(stack.http, f"/credit-facilities/{fid}/accrual-cycles", direction="asc"))["items"]
    february = [(a["period_end"], a["principal"], a["amount"]) for a in cycles[1]["accruals"]]
    per_day = {100_000: 33, 200_000: 66}  # ceil(32.88), ceil(65.75)
    expected = [(str(date(2025, 2, d)), p, per_day[p]) for d in range(1, 29) for p in [100_000 if d < 6 else 200_000]]
    assert february == expected
    assert cycles[1]["accrued"] == 5 * 33 + 23 * 66 == 1_683
    assert [(o["obligation_type"], o["amount"]) for o in await _obligations(stack.http, fid)][-1] == (
        "INTEREST", 1_683)


async def test_a_disbursal_in_a_later_month(credit_stack):
    """Multiple disbursal, 1 % fee: the fee-sized initial disbursal (10,000 ¢) accrues 4 ¢ a day;
    $5,000 more settles on Feb 10 and the principal is 510,000 ¢ from then on (168 ¢ a day)."""
    stack = credit_stack
    await default_chart(stack.engine)
    fid, _ = await activated_facility(stack, JAN15, AMOUNT, one_time_fee_rate="1")
    runs = await run_dates(stack.engine, JAN15, date(2025, 2, 9))
    await disburse(stack, fid, 500_000, date(2025, 2, 10))
    runs += await run_dates(stack.engine, date(2025, 2, 10), APR15)
    assert all(r.failures == [] for r in runs)
    cycles = (await _get(stack.http, f"/credit-facilities/{fid}/accrual-cycles", direction="asc"))["items"]
    assert [c["accrued"] for c in cycles] == [17 * 4, 9 * 4 + 19 * 168, 31 * 168, 15 * 168]  # 68, 3228, 5208, 2520
    feb = cycles[1]["accruals"]
    assert (feb[8]["principal"], feb[8]["amount"], feb[9]["principal"], feb[9]["amount"]) == (10_000, 4, 510_000, 168)
    obligations = await _obligations(stack.http, fid)
    assert sorted((o["obligation_type"], o["amount"], o["status"]) for o in obligations) == sorted([
        ("DISBURSAL", 10_000, "DUE"), ("DISBURSAL", 500_000, "DUE"), ("INTEREST", 68, "OVERDUE"),
        ("INTEREST", 3_228, "DUE"), ("INTEREST", 5_208, "DUE"), ("INTEREST", 2_520, "DUE")])
    tb, pl, bs = await _statements(stack.http, APR15)
    assert tb["totals"]["balanced"] and bs["balanced"]
    assert (_lines(pl["revenue"])["41.01"], _lines(pl["revenue"])["41.02"]) == (11_024, 10_000)  # interest, fee
    assert _lines(bs["assets"])["11.02.0202"] == 510_000
    # matured: no new disbursal (the stored row decides, whatever the workflow's copy says)
    async with stack.engine.begin() as conn:
        with pytest.raises(DisbursalOnInactiveFacility):
            await operations.initiate_disbursal(conn, DisbursalInput(
                facility_id=fid, disbursal_id="00000000-0000-4000-8000-000000000001", amount_cents=1_000,
                actor="test", now=at(date(2025, 4, 16))), MAX_AGE, kyc_required=False)


async def test_an_interest_obligation_goes_due_overdue_defaulted(credit_stack):
    """Short grace and default periods: the January interest is due Jan 31, overdue Feb 5, defaulted
    Feb 10; a date run late (Feb 12, after nothing ran since Jan 31) catches up through both, each
    posted on its own date."""
    stack, http = credit_stack, credit_stack.http
    await default_chart(stack.engine)
    fid, _ = await activated_facility(stack, JAN15, AMOUNT, **SINGLE,
                                      obligation_overdue_duration_from_due={"period": "DAYS", "units": 5},
                                      obligation_liquidation_duration_from_due={"period": "DAYS", "units": 10})
    await run_dates(stack.engine, JAN15, date(2025, 1, 31))
    [interest] = [o for o in await _obligations(http, fid) if o["obligation_type"] == "INTEREST"]
    assert (interest["status"], interest["next_transition_date"]) == ("DUE", "2025-02-05")
    late = await run_end_of_day(stack.engine, date(2025, 2, 12))  # the missed dates' transitions at once
    assert [(e.kind, e.detail["effective"]) for e in late.events] == [
        (K.OBLIGATION_OVERDUE, "2025-02-05"), (K.OBLIGATION_DEFAULTED, "2025-02-10")]
    [interest] = [o for o in await _obligations(http, fid) if o["obligation_type"] == "INTEREST"]
    assert (interest["status"], interest["next_transition_date"], interest["outstanding"]) == (
        "DEFAULTED", None, INTEREST[0])
    async with stack.engine.connect() as conn:
        moved = (await conn.execute(text(
            "SELECT t.template_code, t.effective FROM ledger_transactions t WHERE t.idempotency_key LIKE :k"
            " ORDER BY t.effective"), {"k": f"obligation:{interest['id']}:%"})).all()
    assert [(m.template_code, m.effective) for m in moved] == [
        ("RECORD_OBLIGATION_DUE_BALANCE", date(2025, 1, 31)), ("RECORD_OBLIGATION_OVERDUE_BALANCE", date(2025, 2, 5)),
        ("RECORD_OBLIGATION_DEFAULTED_BALANCE", date(2025, 2, 10))]
    bal = await _get(http, f"/credit-facilities/{fid}/balance")
    assert (bal["interest_defaulted"], bal["due_interest_outstanding"], bal["overdue_interest_outstanding"]) == (
        INTEREST[0], 0, 0)
    assert bal["any_outstanding_or_defaulted"] and bal["total_outstanding"] == AMOUNT  # defaulted is not outstanding
    tb, _, bs = await _statements(http, date(2025, 2, 12))
    assert tb["totals"]["balanced"] and bs["balanced"]
    assert _lines(bs["assets"])["11.02.0203"] == INTEREST[0]  # the defaulted receivables' node


def _month_ends(first: date, last: date) -> list[date]:
    out, d = [], first
    while d <= last:
        nxt = (d.replace(day=28) + timedelta(days=4)).replace(day=1)
        out.append(nxt - timedelta(days=1))
        d = nxt
    return out


async def test_a_ten_year_monthly_facility_runs_to_maturity_with_bounded_state(credit_stack):
    """120 monthly cycles with one monthly accrual each, run at every month end (the only dates on
    which such a facility accrues; obligation transitions in between are caught up, each on its
    date): one open cycle at a time, three events per cycle, one more event on the facility's own
    stream (``facility_matured``), the interest adds up, and a year after maturity everything unpaid
    has defaulted."""
    stack = credit_stack
    fid, _ = await activated_facility(stack, date(2025, 1, 1), AMOUNT, **SINGLE, accrual_interval="EndOfMonth",
                                      duration={"period": "MONTHS", "units": 120})

    async def facility_state():
        async with stack.engine.connect() as conn:
            return (await conn.execute(text(
                "SELECT (SELECT count(*) FROM events WHERE entity_id = :f) AS events,"
                " (SELECT count(*) FROM credit_accrual_cycles WHERE facility_id = CAST(:f AS uuid)"
                "  AND status <> 'Posted') AS open,"
                " pg_column_size(f.*) AS row_bytes FROM credit_facilities f WHERE f.id = CAST(:f AS uuid)"),
                {"f": fid})).one()

    start = await facility_state()
    seen = set()
    for d in [*_month_ends(date(2025, 1, 1), date(2034, 12, 31)), date(2035, 1, 1), date(2036, 1, 1)]:
        run = await run_end_of_day(stack.engine, d)
        assert run.failures == []
        now = await facility_state()
        seen.add((now.events - start.events, now.open, now.row_bytes - start.row_bytes <= 16))
    # before maturity: the facility's stream and row unchanged, one open cycle; after: one event, none
    # open; once everything has defaulted, one more: defaulted balances leave the total outstanding
    # (credit.md §3.1), so nothing is exposed any more
    assert seen == {(0, 1, True), (1, 0, True), (2, 0, True)}
    async with stack.engine.connect() as conn:
        last = (await conn.execute(text(
            "SELECT event_type, payload FROM events WHERE entity_id = :f ORDER BY sequence DESC LIMIT 1"),
            {"f": fid})).one()
    assert (last.event_type, last.payload["state"], last.payload["outstanding_cents"], last.payload["reason"]) == (
        "collateralization_changed", "NoExposure", 0, "default")
    async with stack.engine.connect() as conn:
        cycles = (await conn.execute(text(
            "SELECT idx, accrued_cents, status, version, obligation_id FROM credit_accrual_cycles"
            " WHERE facility_id = CAST(:f AS uuid) ORDER BY idx"), {"f": fid})).all()
        obligations = (await conn.execute(text(
            "SELECT obligation_type, amount_cents, status FROM credit_obligations WHERE facility_id = CAST(:f AS uuid)"),
            {"f": fid})).all()
        status = (await conn.execute(select(facilities.c.status).where(facilities.c.id == fid))).scalar_one()
    assert len(cycles) == 121  # Jan 2025 … Dec 2034, and Jan 1 2035 (the maturity day)
    assert {c.status for c in cycles} == {"Posted"} and {c.version for c in cycles} == {3}
    assert cycles[0].accrued_cents == 10_192  # ceil(1,000,000 × 12 × 31 / 36,500) = ceil(10,191.78)
    assert cycles[-1].accrued_cents == 329  # the maturity day alone
    interest = [o.amount_cents for o in obligations if o.obligation_type == "Interest"]
    assert len(interest) == 121 and sum(interest) == sum(c.accrued_cents for c in cycles)
    assert {o.status for o in obligations} == {"Defaulted"} and status == "Matured"  # nothing was ever paid
    bal = await _get(stack.http, f"/credit-facilities/{fid}/balance")
    assert (bal["disbursed_defaulted"], bal["interest_defaulted"], bal["total_outstanding"]) == (
        AMOUNT, sum(interest), 0)


async def test_a_failing_facility_is_reported_skipped_and_retried_next_run(credit_stack):
    """Three facilities; one's interest income account is locked (the ledger refuses its accrual),
    another's cycle row is corrupt (the domain cannot read it). Both are reported with their code,
    the third accrues, and every page's cursor still moves on; fixed, they accrue on the next run
    (one period per run: the refused one is then a day behind and catches up one period a day)."""
    stack = credit_stack
    ids = [(await activated_facility(stack, JAN15, AMOUNT, **SINGLE))[0] for _ in range(3)]
    ok, locked, corrupt = ids
    async with stack.engine.begin() as conn:
        row = (await conn.execute(select(facilities.c.accounts).where(facilities.c.id == locked))).scalar_one()
        await ledger.set_account_status(conn, uuid.UUID(row["interest_income"]), "locked")
        await conn.execute(text("UPDATE credit_accrual_cycles SET day_count = 'bogus' WHERE facility_id = :f"),
                           {"f": uuid.UUID(corrupt)})
    run = await run_end_of_day(stack.engine, JAN15, limit=2)  # two pages: the failures span both
    assert run.processed["accrue_interest"] == 1 and run.pages["accrue_interest"] == 2
    assert sorted((f.entity_id, f.code) for f in run.failures) == sorted([
        (locked, "ledger.account_locked"), (corrupt, "credit.end_of_day_step_failed")])
    assert await _accrued(stack, ok) == [(1, DAILY)] and await _accrued(stack, locked) == []
    async with stack.engine.begin() as conn:
        await ledger.set_account_status(conn, uuid.UUID(row["interest_income"]), "active")
        await conn.execute(text("UPDATE credit_accrual_cycles SET day_count = 'act_365_fixed' WHERE facility_id = :f"),
                           {"f": uuid.UUID(corrupt)})
    run = await run_end_of_day(stack.engine, date(2025, 1, 16))
    assert run.failures == [] and run.processed["accrue_interest"] == 3
    assert await _accrued(stack, locked) == [(1, DAILY)] and await _accrued(stack, ok) == [(1, DAILY), (2, DAILY)]


async def _accrued(stack, fid: str) -> list[tuple[int, int]]:
    async with stack.engine.connect() as conn:
        return [tuple(r) for r in await conn.execute(text(
            "SELECT n, amount_cents FROM credit_interest_accruals WHERE facility_id = :f ORDER BY n"),
            {"f": uuid.UUID(fid)})]


async def test_lists_are_cursor_pages(three_months):
    stack, fid, _ = three_months
    await run_dates(stack.engine, JAN15, APR15)
    seen, after = [], None
    while True:
        page = await _get(stack.http, f"/credit-facilities/{fid}/accrual-cycles", first=3,
                          **({"after": after} if after else {}))
        seen += [c["idx"] for c in page["items"]]
        if not (after := page["next_cursor"]):
            break
    assert seen == [4, 3, 2, 1]  # newest first by default
    page = await _get(stack.http, f"/credit-facilities/{fid}/obligations", first=2, status="DUE")
    rest = await _get(stack.http, f"/credit-facilities/{fid}/obligations", first=2, status="DUE",
                      after=page["next_cursor"])
    assert len(page["items"]) == 2 and len(rest["items"]) == 2 and rest["next_cursor"] is None
    assert {o["status"] for o in page["items"] + rest["items"]} == {"DUE"}
    r = await stack.http.get(f"{API}/credit-facilities/{fid}/accrual-cycles", params={"after": "bogus"})
    assert r.status_code == 422 and r.json()["code"] == "common.invalid_cursor"
