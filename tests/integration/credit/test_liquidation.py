"""Partial liquidation (credit.md §9.2–§9.3; issue 18 item 3) through the API with the worker
running: an operator price drops a facility below the liquidation threshold, its workflow starts a
Liquidation (amounts of §9.2 shown by ``GET /liquidations``), the operator records collateral sent
twice and the proceeds once (a replay pays nothing more), the proceeds become a payment from the
facility's proceeds account allocated like any other, the facility is back to FullyCollateralized
at the price that dropped it, the window is closed, and a later crossing starts a new one."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import text

from activities import ledger
from activities.credit.activity import liquidation_workflow_id
from domain.credit.liquidation_messages import LiquidationInfo
from tests.harness import Stack
from tests.integration.credit.facility_helpers import PRICE, active_facility, wait_for
from workflows.liquidation import LiquidationWorkflow
from workflows.search_attributes import (
    LANA_LIQUIDATION_EXPECTED_CENTS,
    LANA_LIQUIDATION_RECEIVED_CENTS,
    LANA_LIQUIDATION_SENT_SATS,
    LANA_STATUS,
)

API = "/api/v1"


async def _put_price(stack, cents: int) -> None:
    r = await stack.http.put(f"{API}/price", json={"usd_cents_per_btc": cents})
    assert r.status_code == 200, r.text


async def _liquidations(stack, fid: str, **params) -> list[dict]:
    r = await stack.http.get(f"{API}/liquidations", params={"credit_facility_id": fid, **params})
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def _balances(engine, fid: str) -> dict[str, int]:
    async with engine.connect() as conn:
        accounts = (await conn.execute(text("SELECT accounts FROM credit_facilities WHERE id = :id"),
                                       {"id": fid})).scalar_one()
        out = {}
        for role, ccy in (("collateral", "BTC"), ("collateral_in_liquidation", "BTC"),
                          ("liquidated_collateral", "BTC"), ("proceeds_from_liquidation", "USD")):
            out[role] = (await ledger.balance(conn, uuid.UUID(accounts[role]), ccy)).settled
        return out


async def _postings(engine, code: str, liq_id: str) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(text(
            "SELECT count(*) FROM ledger_transactions WHERE template_code = :c AND idempotency_key LIKE :k"),
            {"c": code, "k": f"liquidation:{liq_id}:%"})).scalar_one()


async def _workflow_ended(stack, liq_id: str) -> LiquidationInfo:
    handle = stack.client.get_workflow_handle(liquidation_workflow_id(liq_id))
    return LiquidationInfo.model_validate(await asyncio.wait_for(handle.result(), 20))


async def test_price_drop_to_full_liquidation_with_proceeds_and_back_to_fully_collateralized(db_url, engine, ts_env):
    with ts_env.auto_time_skipping_disabled():
        async with Stack.start(db_url, engine, ts_env.client, kyc_required=False, price_source="manual") as stack:
            http = stack.http
            await _put_price(stack, PRICE)
            fid, collateral_id, _ = await active_facility(stack, 100_000, disbursal_policy="SingleDisbursal",
                                                          one_time_fee_rate="0")
            r = await http.post(f"{API}/collaterals/{collateral_id}/manual-update", json={"collateral": 2_500_000})
            assert r.status_code == 200, r.text  # 0.025 BTC against $1,000: CVL 150 at $60,000

            # nothing open yet: the commands are refused with a stable code
            r = await http.post(f"{API}/collaterals/{collateral_id}/liquidation/collateral-sent", json={"amount": 1})
            assert (r.status_code, r.json()["code"]) == (409, "credit.no_active_liquidation"), r.text

            await _put_price(stack, 4_190_000)  # $41,900: CVL 104 < 105 (§3.2's case)
            items = await wait_for(lambda: http.get(f"{API}/liquidations", params={"credit_facility_id": fid}),
                                   lambda b: len(b["items"]) == 1)
            liq = items["items"][0]
            assert (liq["status"], liq["expected_to_receive"], liq["estimated_to_liquidate"],
                    liq["trigger_price_cents"], liq["seq"], liq["collateral_id"]) == (
                "OPEN", 88_125, 2_103_222, 4_190_000, 1, collateral_id)  # §9.2's worked example
            handle = stack.client.get_workflow_handle(liquidation_workflow_id(liq["id"]))
            progress = await handle.query(LiquidationWorkflow.progress)
            assert (progress.expected_to_receive_cents, progress.status) == (88_125, "open")

            r = await http.post(f"{API}/collaterals/{collateral_id}/liquidation/collateral-sent",
                                json={"amount": 2_500_001})
            assert (r.status_code, r.json()["code"]) == (422, "credit.liquidation_amount_exceeds_collateral"), r.text
            sent = []
            for n, amount in enumerate((1_000_000, 1_103_222)):
                r = await http.post(f"{API}/collaterals/{collateral_id}/liquidation/collateral-sent",
                                    json={"amount": amount}, headers={"Idempotency-Key": f"sent-{n}"})
                assert r.status_code == 200, r.text
                sent.append(r.json())
            assert (sent[-1]["sent_total"], sent[-1]["sent_count"]) == (2_103_222, 2)
            again = await http.post(f"{API}/collaterals/{collateral_id}/liquidation/collateral-sent",
                                    json={"amount": 1_103_222}, headers={"Idempotency-Key": "sent-1"})
            assert again.status_code == 200 and again.json()["sent_total"] == 2_103_222, again.text
            assert await _postings(engine, "SEND_COLLATERAL_TO_LIQUIDATION", liq["id"]) == 2
            facility = (await http.get(f"{API}/credit-facilities/{fid}")).json()
            assert (facility["collateral"], facility["collateralization_state"]) == (
                396_778, "UNDER_LIQUIDATION_THRESHOLD")
            assert (await _balances(engine, fid))["collateral_in_liquidation"] == 2_103_222

            r = await http.post(f"{API}/collaterals/{collateral_id}/liquidation/proceeds-received",
                                json={"amount": 88_125}, headers={"Idempotency-Key": "proceeds"})
            assert r.status_code == 200, r.text
            done = await _workflow_ended(stack, liq["id"])
            assert (done.status, done.proceeds_cents, done.sent_total_sats) == ("completed", 88_125, 2_103_222)
            described = (await handle.describe()).typed_search_attributes
            assert (described.get(LANA_STATUS), described.get(LANA_LIQUIDATION_EXPECTED_CENTS),
                    described.get(LANA_LIQUIDATION_RECEIVED_CENTS), described.get(LANA_LIQUIDATION_SENT_SATS)) == (
                "completed", 88_125, 88_125, 2_103_222)

            # the proceeds became a payment from the proceeds account, allocated like any other
            payments = (await http.get(f"{API}/credit-facilities/{fid}/payments")).json()["items"]
            assert [(p["id"], p["amount"], p["allocated"]) for p in payments] == [(done.payment_id, 88_125, 88_125)]
            assert [a["amount"] for a in payments[0]["allocations"]] == [88_125]
            replay = await http.post(f"{API}/collaterals/{collateral_id}/liquidation/proceeds-received",
                                     json={"amount": 88_125}, headers={"Idempotency-Key": "proceeds"})
            assert replay.status_code == 200 and replay.json()["payment_id"] == done.payment_id, replay.text
            assert len((await http.get(f"{API}/credit-facilities/{fid}/payments")).json()["items"]) == 1
            assert await _postings(engine, "RECEIVE_PROCEEDS_FROM_LIQUIDATION", liq["id"]) == 1
            other = await http.post(f"{API}/collaterals/{collateral_id}/liquidation/proceeds-received",
                                    json={"amount": 1}, headers={"Idempotency-Key": "other"})
            assert (other.status_code, other.json()["code"]) == (409, "credit.no_active_liquidation"), other.text

            assert await _balances(engine, fid) == {"collateral": 396_778, "collateral_in_liquidation": 0,
                                                    "liquidated_collateral": 2_103_222,
                                                    "proceeds_from_liquidation": 0}  # all paid out
            facility = (await http.get(f"{API}/credit-facilities/{fid}")).json()
            assert (facility["outstanding"], facility["collateralization_state"], facility["cvl"]) == (
                11_875, "FULLY_COLLATERALIZED", {"value": "139"})  # §9.2: just under the 140 target
            one = (await http.get(f"{API}/liquidations/{liq['id']}")).json()
            assert (one["status"], one["amount_received"], [s["amount"] for s in one["collateral_sent"]]) == (
                "COMPLETED", 88_125, [1_000_000, 1_103_222])

            # the window is closed: a later crossing starts a new liquidation
            await _put_price(stack, 3_000_000)  # 396 778 sats = $119.03 against $118.75: CVL 100
            second = await wait_for(lambda: http.get(f"{API}/liquidations", params={"credit_facility_id": fid}),
                                    lambda b: len(b["items"]) == 2)
            newest = second["items"][0]  # created_at descending
            assert (newest["seq"], newest["status"]) == (2, "OPEN") and newest["id"] != liq["id"]
            # (11 875 · 140 − 100 · 11 903) / 40 = 11 805 ¢, 393 500 sats at $30,000
            assert (newest["expected_to_receive"], newest["estimated_to_liquidate"]) == (11_805, 393_500)
            quote = await http.get(f"{API}/liquidations/{newest['id']}/payment-quote", params={"outstanding": 11_875})
            assert quote.status_code == 200, quote.text
            assert {k: quote.json()[k] for k in ("to_receive", "to_liquidate", "effective_price_cents",
                                                  "premium_percent", "target_cvl")} == {
                "to_receive": 11_805, "to_liquidate": 393_500, "effective_price_cents": 3_000_000,
                "premium_percent": "0.00", "target_cvl": "140"}
            fixed = await http.get(f"{API}/liquidations/{newest['id']}/payment-quote",
                                   params={"outstanding": 11_875, "to_liquidate": 100_000})
            assert (fixed.json()["to_receive"], fixed.json()["to_liquidate"]) == (3_000, 100_000)
            by_expected = await _liquidations(stack, fid, sort="EXPECTED_TO_RECEIVE", direction="ASC")
            assert [x["seq"] for x in by_expected] == [2, 1]


async def test_proceeds_are_allocated_interest_first_on_real_obligations(credit_stack):
    """The liquidation steps on a facility with posted interest (the end-of-day steps made it): the
    proceeds' payment pays the interest obligation before the principal (``interest_first``), from
    the proceeds account, and a retried apply pays nothing more."""
    from datetime import UTC, date, datetime

    from activities.credit import liquidations, operations
    from domain.credit.liquidation_messages import (
        ApplyProceedsInput,
        CollateralSentInput,
        InitiateLiquidationInput,
        ProceedsInput,
    )
    from tests.integration.credit.eod_helpers import activated_facility, run_dates
    from tests.integration.credit.facility_helpers import set_price

    stack = credit_stack
    fid, _ = await activated_facility(stack, date(2025, 1, 15), 1_000_000, disbursal_policy="SingleDisbursal",
                                      one_time_fee_rate="0")
    await run_dates(stack.engine, date(2025, 1, 15), date(2025, 2, 1))  # the January cycle's interest posted
    now = datetime.now(UTC)
    await set_price(stack.engine, 1_040_000)  # 1 BTC at $10,400 against ~$10,050: CVL 103
    async with stack.engine.begin() as conn:
        state = await operations.recompute_collateralization(conn, fid, now, reason="test")
    assert state.collateralization.value == "UnderLiquidationThreshold" and state.outstanding_cents > 1_000_000
    async with stack.engine.begin() as conn:
        info = await liquidations.initiate(conn, InitiateLiquidationInput(facility_id=fid, now=now))
    assert info is not None and info.expected_to_receive_cents > 0
    async with stack.engine.begin() as conn:  # a retried initiation answers the open one
        assert (await liquidations.initiate(conn, InitiateLiquidationInput(facility_id=fid, now=now))).id == info.id
    async with stack.engine.begin() as conn:
        await liquidations.collateral_sent(conn, CollateralSentInput(
            liquidation_id=info.id, command_id=str(uuid.uuid4()), amount_sats=10_000_000, actor="test", now=now),
            settings=stack.settings)
    async with stack.engine.begin() as conn:
        await liquidations.receive_proceeds(conn, ProceedsInput(
            liquidation_id=info.id, command_id=str(uuid.uuid4()), amount_cents=100_000, actor="test", now=now),
            settings=stack.settings)
    for _ in range(2):  # the second is a retried step: nothing more
        async with stack.engine.begin() as conn:
            done = await liquidations.apply_proceeds(conn, ApplyProceedsInput(liquidation_id=info.id, now=now),
                                                     settings=stack.settings)
    assert done.liquidation.status == "completed" and done.replayed
    payments = (await stack.http.get(f"{API}/credit-facilities/{fid}/payments")).json()["items"]
    assert len(payments) == 1 and payments[0]["amount"] == 100_000
    kinds = [a["obligation_type"] for a in payments[0]["allocations"]]
    assert kinds[0] == "INTEREST" and kinds[-1] == "DISBURSAL", payments[0]["allocations"]
    async with stack.engine.connect() as conn:
        source = (await conn.execute(text("SELECT source_account_id::text FROM credit_payments WHERE facility_id = :f"),
                                     {"f": fid})).scalar_one()
        accounts = (await conn.execute(text("SELECT accounts FROM credit_facilities WHERE id = :id"),
                                       {"id": fid})).scalar_one()
    assert source == accounts["proceeds_from_liquidation"]
