"""Live updates (issue 21 item 4, docs/streams.md) through a real uvicorn server with the worker
running on a simulated clock: a facility's stream receives its activation, the disbursal's
settlement and an end-of-day accrual in order; after a disconnect (the subscriber count returns to
zero) and more work, a reconnect with ``Last-Event-ID`` replays exactly what was missed; the
permission and the entity are checked before any SSE byte; the customer's portal stream and the
price and withdrawal streams ride the same listener."""

from __future__ import annotations

import asyncio
import json
import uuid
from contextlib import asynccontextmanager

import httpx
from sqlalchemy import text

from api.authn import issue_customer_dev_token
from api.stream_hub import COLUMNS
from tests.fakes.serve import serving
from tests.harness import Stack
from tests.integration.credit.facility_helpers import (
    PRICE,
    customer_with_deposit,
    propose,
    set_price,
    wait_for,
)
from tests.integration.deposits_helpers import deposit, wait_status, withdraw

API = "/api/v1"
ADVANCE = f"{API}/time/advance-to-next-end-of-day"


async def _until(predicate, within: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


class SseReader:
    """Reads one SSE response into parsed events (and counts heartbeat comments)."""

    def __init__(self, response: httpx.Response) -> None:
        self.response, self.events, self.comments = response, [], 0
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        event: dict = {}
        async for line in self.response.aiter_lines():
            if line == "":
                if "data" in event:
                    self.events.append({"sse_id": int(event["id"]), "event": event.get("event"),
                                        **json.loads(event["data"])})
                event = {}
            elif line.startswith(":"):
                self.comments += 1
            else:
                field, _, value = line.partition(":")
                event[field] = value[1:] if value.startswith(" ") else value

    async def wait_for(self, predicate, within: float = 20.0) -> None:
        await _until(lambda: any(predicate(e) for e in self.events), within)


@asynccontextmanager
async def _open(http: httpx.AsyncClient, path: str, stack: Stack, *, last_event_id: int | None = None):
    before = stack.app.state.streams.subscriber_count
    headers = {"Last-Event-ID": str(last_event_id)} if last_event_id is not None else {}
    async with http.stream("GET", path, headers=headers) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        reader = SseReader(r)
        await _until(lambda: stack.app.state.streams.subscriber_count == before + 1)
        try:
            yield reader
        finally:
            reader.task.cancel()


def _position(events, entity_type, event_type) -> int:
    return next(i for i, e in enumerate(events) if (e["entity_type"], e["event_type"]) == (entity_type, event_type))


async def _stored(engine, fid: str, after: int) -> list[int]:
    """The facility's events after ``after`` as the table has them (the listener's relation)."""
    async with engine.connect() as conn:
        rows = (await conn.execute(text(f"SELECT {COLUMNS} FROM events e WHERE e.id > :after ORDER BY e.id"),
                                   {"after": after})).mappings().all()
    return [r["id"] for r in rows if r["facility_id"] == fid]


async def test_a_facility_stream_delivers_in_order_resumes_without_loss_and_closes(db_url, engine, ts_env):
    async with Stack.start(db_url, engine, ts_env.client, kyc_required=False, clock_mode="simulated",
                           stream_heartbeat_s=0.3) as stack:
        await set_price(engine, PRICE)
        customer_id, account = await customer_with_deposit(stack)
        body = (await propose(stack.http, customer_id, 100_000, disbursal_policy="SingleDisbursal",
                              one_time_fee_rate="0")).json()
        fid = body["id"]
        await wait_for(lambda: stack.http.get(f"{API}/pending-credit-facilities/{fid}"),
                       lambda b: b["pending_status"] == "PENDING_COLLATERALIZATION")
        hub = stack.app.state.streams
        async with serving(stack.app) as base, httpx.AsyncClient(
                base_url=base, headers={"Authorization": stack.http.headers["Authorization"]},
                timeout=httpx.Timeout(10, read=30)) as http:
            # checked before the stream opens: a JSON problem, not an SSE byte
            sets = {x["name"]: x["id"] for x in (await stack.http.get(f"{API}/permission-sets", params={"first": 100})
                                                 ).json()["items"]}
            r = await stack.http.post(f"{API}/roles", json={"name": "deposits-only",
                                                            "permission_set_ids": [sets["deposit_viewer"]]})
            assert r.status_code == 201, r.text
            r = await stack.http.post(f"{API}/users", json={"email": "dep@bank.test", "role_id": r.json()["id"]})
            assert r.status_code == 201, r.text
            viewer = await stack.token_for("dep@bank.test", "deposits-only")
            r = await http.get(f"{API}/credit-facilities/{fid}/stream", headers={"Authorization": f"Bearer {viewer}"})
            assert (r.status_code, r.headers["content-type"], r.json()["code"]) == (
                403, "application/problem+json", "auth.forbidden")
            r = await http.get(f"{API}/credit-facilities/{uuid.uuid4()}/stream")
            assert (r.status_code, r.json()["code"]) == (404, "common.not_found")
            r = await http.get(f"{API}/credit-facilities/{fid}/stream", headers={"Last-Event-ID": "x"})
            assert (r.status_code, r.json()["code"]) == (422, "common.validation_failed")
            assert hub.subscriber_count == 0

            async with _open(http, f"{API}/credit-facilities/{fid}/stream", stack) as first:
                r = await stack.http.post(f"{API}/collaterals/{body['collateral_id']}/manual-update",
                                          json={"collateral": 10_000_000})
                assert r.json()["status"] == "ACTIVE", r.text
                await first.wait_for(lambda e: (e["entity_type"], e["event_type"]) == ("credit_disbursal", "settled"))
                r = await stack.http.post(ADVANCE)
                assert r.status_code == 200, r.text
                await first.wait_for(lambda e: e["event_type"] == "interest_accrued")
                seen = list(first.events)
                # activation settles the initial disbursal in the same transaction (its events
                # come in id order); the end of day's accrual is a later transaction
                activated = _position(seen, "credit_facility", "facility_activated")
                settled = _position(seen, "credit_disbursal", "settled")
                accrual = _position(seen, "credit_accrual_cycle", "interest_accrued")
                assert max(activated, settled) < accrual, [(e["entity_type"], e["event_type"]) for e in seen]
                assert [e["event_id"] for e in seen] == sorted(e["event_id"] for e in seen)
                assert [e["sse_id"] for e in seen] == [e["event_id"] for e in seen]  # the resume point
                accrued = next(e for e in seen if e["event_type"] == "interest_accrued")
                assert accrued["payload"]["amount_cents"] == 33  # ceil(100,000 × 12 % / 365)
                # the heartbeat comes once the stream has been idle for 0.3 s: wait for it, not for the steps
                await _until(lambda: first.comments >= 1, 5)
                assert first.comments >= 1  # the heartbeat
            await _until(lambda: hub.subscriber_count == 0)  # the disconnect removed the subscriber

            ids = [e["event_id"] for e in seen]
            assert len(ids) == len(set(ids)) and ids == await _stored(engine, fid, ids[0] - 1)
            last = seen[-1]["sse_id"]
            missed = []
            for _ in range(2):  # more work while nobody listens
                r = await stack.http.post(ADVANCE)
                assert r.status_code == 200, r.text
            missed = await _stored(engine, fid, last)
            assert missed, "the advances while disconnected wrote nothing for the facility"

            async with _open(http, f"{API}/credit-facilities/{fid}/stream", stack, last_event_id=last) as again:
                await _until(lambda: len(again.events) >= len(missed))
                r = await stack.http.post(ADVANCE)  # and live again after the replay
                assert r.status_code == 200, r.text
                await _until(lambda: sum(e["event_type"] == "interest_accrued" for e in again.events) >= 3)
                await asyncio.sleep(0.3)
                resumed = [e["event_id"] for e in again.events]
            await _until(lambda: hub.subscriber_count == 0)
            assert resumed[:len(missed)] == missed  # nothing lost
            assert len(resumed) == len(set(resumed)) and not set(resumed) & set(ids)  # nothing twice
            assert resumed == await _stored(engine, fid, last)

            # the customer's own stream (portal, by ownership) replays the same events
            customer_id = (await stack.http.get(f"{API}/credit-facilities/{fid}")).json()["customer_id"]
            token = issue_customer_dev_token(stack.settings, uuid.UUID(customer_id))
            portal = {"Authorization": f"Bearer {token}"}
            r = await http.get(f"{API}/portal/credit-facilities/{uuid.uuid4()}/stream", headers=portal)
            assert (r.status_code, r.json()["code"]) == (404, "common.not_found")
            r = await http.get(f"{API}/portal/credit-facilities/{fid}/stream")  # an operator token
            assert (r.status_code, r.json()["code"]) == (403, "auth.forbidden")
            async with httpx.AsyncClient(base_url=base, headers=portal, timeout=httpx.Timeout(10, read=30)) as mine:
                async with _open(mine, f"{API}/portal/credit-facilities/{fid}/stream", stack,
                                 last_event_id=ids[0] - 1) as own:
                    everything = ids + resumed
                    await _until(lambda: len(own.events) >= len(everything))
                    assert [e["event_id"] for e in own.events] == everything
            await _until(lambda: hub.subscriber_count == 0)

            # the price stream: one event per change, written by the feed's own store code
            async with _open(http, f"{API}/price/stream", stack) as prices:
                await set_price(engine, PRICE + 100)
                await prices.wait_for(lambda e: e["event_type"] == "price_updated")
                assert [e["payload"]["usd_cents_per_btc"] for e in prices.events] == [PRICE + 100]
            await _until(lambda: hub.subscriber_count == 0)

            # a withdrawal's stream: its approval and its confirmation, as they happen
            assert (await deposit(stack, str(account), 10_000)).status_code == 201
            wid = (await withdraw(stack, str(account), 4_000)).json()["id"]
            await wait_status(stack, wid, "PENDING_CONFIRMATION")
            async with _open(http, f"{API}/withdrawals/{wid}/stream", stack, last_event_id=0) as w:
                await w.wait_for(lambda e: e["event_type"] == "approval_process_concluded")  # replayed
                assert (await stack.http.post(f"{API}/withdrawals/{wid}/confirm")).status_code == 200
                await w.wait_for(lambda e: e["event_type"] == "confirmed")  # live
                assert [e["event_type"] for e in w.events] == ["initialized", "approval_process_concluded",
                                                               "confirmed"]
                assert {e["entity_id"] for e in w.events} == {wid}
            await _until(lambda: hub.subscriber_count == 0)
