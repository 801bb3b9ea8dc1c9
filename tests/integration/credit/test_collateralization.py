"""Collateralization against total outstanding with hysteresis (credit.md §3.1, §3.4, §3.6; issue 18
item 2), through the API with the worker running: operator prices (``PUT /price``) move a facility
into margin call and back out only past margin call + 5; posted interest (the end of day, run by
the worker on the simulated clock) counts in the CVL; the states are kept with their history."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from activities.credit import operations
from activities.credit.tables import collateralization_history, collateralization_triggers
from activities.event_store import events
from domain.credit.messages import CollateralizationSignal
from tests.harness import Stack
from tests.integration.credit.facility_helpers import PRICE, active_facility, set_price, wait_for
from workflows.credit_facility import CreditFacilityWorkflow, facility_workflow_id
from workflows.search_attributes import LANA_COLLATERALIZATION

API = "/api/v1"


async def _put_price(stack, cents: int) -> None:
    r = await stack.http.put(f"{API}/price", json={"usd_cents_per_btc": cents})
    assert r.status_code == 200, r.text


async def _facility(stack, fid: str) -> dict:
    r = await stack.http.get(f"{API}/credit-facilities/{fid}")
    assert r.status_code == 200, r.text
    return r.json()


async def _history(stack, fid: str) -> list[dict]:
    r = await stack.http.get(f"{API}/credit-facilities/{fid}/collateralization-history")
    assert r.status_code == 200, r.text
    return r.json()


async def _workflow_sees(stack, fid: str, state: str) -> None:
    """The facility's workflow heard the change (signal from the pass): its search attribute and
    its summary query show ``state``."""
    handle = stack.client.get_workflow_handle(facility_workflow_id(fid))
    for _ in range(200):
        described = (await handle.describe()).typed_search_attributes.get(LANA_COLLATERALIZATION)
        if described == state and (await handle.query(CreditFacilityWorkflow.summary)).collateralization == state:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"workflow shows {described}, expected {state}")


async def _reduce_collateral(stack, collateral_id: str, sats: int) -> None:
    r = await stack.http.post(f"{API}/collaterals/{collateral_id}/manual-update", json={"collateral": sats})
    assert r.status_code == 200, r.text


async def test_price_drop_into_margin_call_and_back_out_through_the_hysteresis_band(db_url, engine, ts_env):
    """$1,000 drawn at activation, 0.01 BTC: CVL = price in dollars / 1,000 (integer percent). Margin
    call 125: in at 124, still in at 130 (not above 125 + 5), out at 131."""
    with ts_env.auto_time_skipping_disabled():
        async with Stack.start(db_url, engine, ts_env.client, kyc_required=False, price_source="manual") as stack:
            await _put_price(stack, PRICE)
            fid, collateral_id, _ = await active_facility(stack, 100_000, disbursal_policy="SingleDisbursal",
                                                          one_time_fee_rate="0")
            await _reduce_collateral(stack, collateral_id, 2_500_000)  # 0.025 BTC: CVL 150 at $60,000
            body = await _facility(stack, fid)
            assert (body["collateralization_state"], body["outstanding"], body["current_cvl"]) == (
                "FULLY_COLLATERALIZED", 100_000, {"value": "150"})
            before = len(await _history(stack, fid))

            await _put_price(stack, 4_960_000)  # $49,600: CVL 124 < 125
            body = await _facility(stack, fid)
            assert (body["collateralization_state"], body["cvl"], body["price_cents"]) == (
                "UNDER_MARGIN_CALL_THRESHOLD", {"value": "124"}, 4_960_000)
            await _workflow_sees(stack, fid, "UnderMarginCallThreshold")

            for cents, cvl in ((5_000_000, "125"), (5_200_000, "130")):  # back above 125, not above 130
                await _put_price(stack, cents)
                body = await _facility(stack, fid)
                assert body["collateralization_state"] == "UNDER_MARGIN_CALL_THRESHOLD", cents
                assert body["current_cvl"] == {"value": cvl} and body["cvl"] == {"value": "124"}

            await _put_price(stack, 5_240_000)  # $52,400: CVL 131 > 130: fully collateralized again
            body = await _facility(stack, fid)
            assert (body["collateralization_state"], body["cvl"]) == ("FULLY_COLLATERALIZED", {"value": "131"})
            await _workflow_sees(stack, fid, "FullyCollateralized")

            rows = (await _history(stack, fid))[before:]
            assert [(h["state"], h["cvl"], h["collateral"], h["outstanding"], h["price_cents"], h["reason"])
                    for h in rows] == [
                ("UNDER_MARGIN_CALL_THRESHOLD", {"value": "124"}, 2_500_000, 100_000, 4_960_000, "price"),
                ("FULLY_COLLATERALIZED", {"value": "131"}, 2_500_000, 100_000, 5_240_000, "price")]
            async with engine.connect() as conn:  # one event per change, none for the held prices
                kinds = (await conn.execute(select(events.c.event_type).where(
                    events.c.entity_type == "credit_facility", events.c.entity_id == fid)
                    .order_by(events.c.sequence))).scalars().all()
                row = (await conn.execute(select(collateralization_triggers).where(
                    collateralization_triggers.c.facility_id == fid))).one()
            assert kinds[-2:] == ["collateralization_changed", "collateralization_changed"]
            assert kinds.count("collateralization_changed") == len(await _history(stack, fid))
            # stored trigger prices after the upgrade: down below $50,000 (CVL 125), none up
            assert (row.trigger_price_down, row.trigger_price_up) == (4_999_999, None)

            await _put_price(stack, 4_100_000)  # $41,000: CVL 102 < 105, straight down two states
            assert (await _facility(stack, fid))["collateralization_state"] == "UNDER_LIQUIDATION_THRESHOLD"
            await _workflow_sees(stack, fid, "UnderLiquidationThreshold")

            # signals come at least once and in any order: an older one changes nothing
            handle = stack.client.get_workflow_handle(facility_workflow_id(fid))
            current = await handle.query(CreditFacilityWorkflow.current)
            await handle.signal(CreditFacilityWorkflow.collateralization_changed, CollateralizationSignal(
                facility_id=fid, state="FullyCollateralized", cvl="131", price_cents=5_240_000,
                outstanding_cents=100_000, collateral_sats=2_500_000, version=current.version - 1, reason="price"))
            after = await handle.query(CreditFacilityWorkflow.current)
            assert (after.collateralization.value, after.version) == ("UnderLiquidationThreshold", current.version)


async def test_posted_interest_counts_in_the_cvl(db_url, engine, ts_env):
    """CVL 126 against $1,000 of principal; the month's interest, posted by the end of day (the
    worker, simulated clock advanced through the API), takes the total outstanding above $1,008
    and the facility into margin call, recorded with the interest as its reason. Accrued-unposted
    interest does not count before that."""
    # no time skipping: the test server would otherwise jump to the facility workflow's run timeout
    # while a test awaits an end-of-day run, and the end of day's signal would find no workflow
    with ts_env.auto_time_skipping_disabled():
        async with Stack.start(db_url, engine, ts_env.client, kyc_required=False, clock_mode="simulated") as stack:
            http = stack.http
            await set_price(engine, PRICE)
            fid, collateral_id, _ = await active_facility(stack, 100_000, disbursal_policy="SingleDisbursal",
                                                          one_time_fee_rate="0")
            await _reduce_collateral(stack, collateral_id, 2_100_000)  # 0.021 BTC = $1,260: CVL 126
            assert (await _facility(stack, fid))["current_cvl"] == {"value": "126"}

            r = await http.post(f"{API}/time/advance-to-next-end-of-day")  # one day: accrued, not posted
            assert r.status_code == 200, r.text
            balance = (await http.get(f"{API}/credit-facilities/{fid}/balance")).json()
            assert balance["interest_accrued"] > 0 and balance["interest_posted"] == 0
            body = await _facility(stack, fid)
            assert (body["outstanding"], body["collateralization_state"]) == (100_000, "FULLY_COLLATERALIZED")

            for _ in range(40):  # through the end of the month: the cycle posts its interest
                r = await http.post(f"{API}/time/advance-to-next-end-of-day", json={"days": 5})
                assert r.status_code == 200, r.text
                balance = (await http.get(f"{API}/credit-facilities/{fid}/balance")).json()
                if balance["interest_posted"]:
                    break
            posted = balance["interest_posted"]
            assert posted > 800, balance  # ~ a month at 12 % on $1,000
            body = await _facility(stack, fid)
            assert body["outstanding"] == balance["total_outstanding"] == 100_000 + posted
            expected_cvl = 126_000 * 100 // (100_000 + posted)
            assert expected_cvl < 125
            assert (body["collateralization_state"], body["cvl"]) == (
                "UNDER_MARGIN_CALL_THRESHOLD", {"value": str(expected_cvl)})
            last = (await _history(stack, fid))[-1]
            assert (last["state"], last["outstanding"], last["reason"]) == (
                "UNDER_MARGIN_CALL_THRESHOLD", 100_000 + posted, "interest")
            await _workflow_sees(stack, fid, "UnderMarginCallThreshold")

            # the entry point for payments: recomputing from the ledger finds the stored figures right
            async with engine.connect() as conn:
                count = (await conn.execute(select(func.count()).select_from(collateralization_history)
                                            .where(collateralization_history.c.facility_id == fid))).scalar_one()
            async with engine.begin() as conn:
                from datetime import UTC, datetime

                state = await operations.recompute_collateralization(conn, fid, datetime.now(UTC))
            assert (state.outstanding_cents, state.collateralization.value) == (100_000 + posted,
                                                                                "UnderMarginCallThreshold")
            async with engine.connect() as conn:
                assert (await conn.execute(select(func.count()).select_from(collateralization_history)
                                           .where(collateralization_history.c.facility_id == fid))).scalar_one() == count
            await wait_for(lambda: http.get(f"{API}/credit-facilities/{fid}"),
                           lambda b: b["collateralization_state"] == "UNDER_MARGIN_CALL_THRESHOLD")


async def test_a_payment_lifts_a_facility_out_of_margin_call(db_url, engine, ts_env):
    """$1,000 drawn, 0.025 BTC at $49,600: CVL 124 (margin call 125). A $100 payment (no interest
    posted yet: all principal) leaves $900: 1,240 / 900 = 1.377 → 137 > 130, FullyCollateralized,
    recorded with reason ``payment`` and heard by the workflow."""
    with ts_env.auto_time_skipping_disabled():
        async with Stack.start(db_url, engine, ts_env.client, kyc_required=False, price_source="manual") as stack:
            await _put_price(stack, PRICE)
            fid, collateral_id, _ = await active_facility(stack, 100_000, disbursal_policy="SingleDisbursal",
                                                          one_time_fee_rate="0")
            await _reduce_collateral(stack, collateral_id, 2_500_000)
            await _put_price(stack, 4_960_000)
            assert (await _facility(stack, fid))["collateralization_state"] == "UNDER_MARGIN_CALL_THRESHOLD"

            r = await stack.http.post(f"{API}/credit-facilities/{fid}/payments", json={"amount": 10_000},
                                      headers={"Idempotency-Key": "pay-1"})
            assert r.status_code in (200, 201), r.text
            body = await _facility(stack, fid)
            assert (body["collateralization_state"], body["outstanding"], body["current_cvl"]) == (
                "FULLY_COLLATERALIZED", 90_000, {"value": "137"}), body
            last = (await _history(stack, fid))[-1]
            assert (last["state"], last["reason"], last["outstanding"]) == (
                "FULLY_COLLATERALIZED", "payment", 90_000), last
            await _workflow_sees(stack, fid, "FullyCollateralized")
