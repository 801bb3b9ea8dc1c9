"""Payment step figures (prints them; run with LANA_BENCH=1; nothing asserts a timing):

    LANA_BENCH=1 .venv/bin/pytest -s -p no:cacheprovider tests/bench/test_payment_bench.py

1. The payment step alone (``payments.record_payment``: one transaction) against a facility with 1,
   10 and 100 obligations (extra 10 $ interest obligations made directly; 15 $ payments, so the
   10-obligation facility's are paid off after six), interleaved rounds.
2. Through the API with the worker (``POST /credit-facilities/{id}/payments``: the Update, the step,
   the read-model answer): sequential on one facility, 8 at once on one facility (the workflow's
   lock serialises them), 8 at once on 8 facilities.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
import uuid
from datetime import UTC, date, datetime

import pytest

from activities.credit import lifecycle_store as ls
from activities.credit import payments
from domain.credit.messages import PaymentInput
from domain.credit.obligation import DueDates, Obligation
from tests.credit_fixtures import terms
from tests.harness import Stack
from tests.integration.credit.eod_helpers import activated_facility
from tests.integration.credit.facility_helpers import PRICE, active_facility, set_price

pytestmark = pytest.mark.skipif(not os.environ.get("LANA_BENCH"), reason="benchmark: set LANA_BENCH=1")
SINGLE = {"disbursal_policy": "SingleDisbursal", "one_time_fee_rate": "0"}
ROUNDS, PER_ROUND = 3, 20


def _pct(samples: list[float], q: float) -> float:
    return sorted(samples)[min(len(samples) - 1, int(q * len(samples)))]


async def test_payment_step_and_api_figures(db_url, engine, ts_env):
    with ts_env.auto_time_skipping_disabled():
        async with Stack.start(db_url, engine, ts_env.client, kyc_required=False) as stack:
            await _step_alone(stack)
            await _through_api(stack)


async def _step_alone(stack) -> None:
    settings, engine = stack.settings, stack.engine
    facilities = {}
    for k in (1, 10, 100):
        fid, _ = await activated_facility(stack, date(2025, 1, 15), 1_000_000, **SINGLE)
        extra = [Obligation.for_interest(fid, str(uuid.uuid4()), i + 1, 1_000, date(2025, 1, 31),
                                         DueDates.from_due(date(2025, 1, 31), terms())) for i in range(k - 1)]
        for o in extra:
            o.cycle_id = None  # no accrual cycle row behind these (made for the bench only)
        async with engine.begin() as conn:
            await ls.insert_obligations(conn, extra)
        facilities[k] = fid
    samples: dict[int, list[float]] = {k: [] for k in facilities}
    postings: dict[int, list[int]] = {k: [] for k in facilities}
    for _ in range(ROUNDS):
        for k, fid in facilities.items():  # interleaved: each round runs every size
            for _ in range(PER_ROUND):
                t = time.perf_counter()
                async with engine.begin() as conn:
                    out = await payments.record_payment(conn, PaymentInput(
                        facility_id=fid, payment_id=str(uuid.uuid4()), amount_cents=1_500, actor="bench",
                        now=datetime.now(UTC)), settings=settings)
                samples[k].append((time.perf_counter() - t) * 1000)
                assert sum(a.amount_cents for a in out.allocations) == 1_500
                postings[k].append(1 + len(out.allocations))
    print("\npayment step alone (one transaction), ms")
    for k, s in samples.items():
        print(f"  {k:>3} open obligations: p50 {statistics.median(s):6.1f}  p99 {_pct(s, 0.99):6.1f}  "
              f"({len(s)} payments, {min(postings[k])}-{max(postings[k])} postings each)")


async def _through_api(stack) -> None:
    http = stack.http
    await set_price(stack.engine, PRICE)
    fids = [(await active_facility(stack, 100_000, **SINGLE))[0] for _ in range(8)]

    async def pay(fid: str) -> float:
        t = time.perf_counter()
        r = await http.post(f"/api/v1/credit-facilities/{fid}/payments", json={"amount": 100})
        assert r.status_code == 201, r.text
        return (time.perf_counter() - t) * 1000

    seq: list[float] = []
    one_rates, many_rates = [], []
    for _ in range(ROUNDS):
        seq += [await pay(fids[0]) for _ in range(PER_ROUND)]
        t = time.perf_counter()
        await asyncio.gather(*(pay(fids[0]) for _ in range(8)))
        one_rates.append(8 / (time.perf_counter() - t))
        t = time.perf_counter()
        await asyncio.gather(*(pay(f) for f in fids))
        many_rates.append(8 / (time.perf_counter() - t))
    print("through the API (Update + step + answer), in-process API and worker, time-skipping test server")
    print(f"  sequential, one facility: p50 {statistics.median(seq):6.1f} ms  p99 {_pct(seq, 0.99):6.1f} ms "
          f"({len(seq)} payments)")
    print(f"  8 at once, one facility:  {statistics.median(one_rates):5.1f} payments/s (rounds: "
          f"{', '.join(f'{r:.1f}' for r in one_rates)})")
    print(f"  8 at once, 8 facilities:  {statistics.median(many_rates):5.1f} payments/s (rounds: "
          f"{', '.join(f'{r:.1f}' for r in many_rates)})")
