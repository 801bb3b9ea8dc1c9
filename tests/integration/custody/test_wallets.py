"""``custody.create_wallet`` on its own: once per facility, whatever runs it concurrently (here four
extra steps race the facility workflow's own)."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from activities.custody import operations
from domain.credit.status import Stage
from tests.integration.custody.test_adapters import BIP84_ZPUB
from tests.integration.custody.test_custodians import _create, _proposal


async def test_concurrent_steps_make_one_wallet_and_spend_one_index(custody_stack):
    stack = custody_stack
    custodian = (await _create(stack.http, "self-custody", "Cold", account_xpub=BIP84_ZPUB, network="mainnet")).json()
    facility = (await _proposal(stack, custodian["id"])).json()
    ring = stack.app.state.custody_keyring
    views = await asyncio.gather(*(operations.create_wallet(stack.engine, ring, stack.settings, facility["id"])
                                   for _ in range(4)))
    assert len({v["wallet_id"] for v in views}) == 1 and views[0]["external_wallet_id"] == "self-custody:0"
    assert views[0]["wallet_id"] == operations.wallet_id_for(facility["id"])
    for _ in range(200):  # the workflow's own step finds the wallet and changes nothing
        async with stack.engine.connect() as conn:
            stage = (await conn.execute(text("SELECT stage FROM credit_facilities WHERE id = :id"),
                                        {"id": facility["id"]})).scalar_one()
        if stage != Stage.PROPOSAL.value:
            break
        await asyncio.sleep(0.05)
    assert stage == Stage.PENDING.value
    await asyncio.sleep(0.5)
    async with stack.engine.connect() as conn:
        index = (await conn.execute(text("SELECT next_receive_index FROM custody_custodians WHERE id = :id"),
                                    {"id": custodian["id"]})).scalar_one()
        events = (await conn.execute(text("SELECT count(*) FROM events WHERE entity_type = 'custody_wallet'"))
                  ).scalar_one()
    assert (index, events) == (1, 1)
    assert await operations.create_wallet(stack.engine, ring, stack.settings, facility["id"]) == views[0]


async def test_an_operator_recreates_a_refused_wallet_after_fixing_the_credentials(custody_stack, fakes):
    from tests.integration.credit.facility_helpers import wait_for
    from tests.integration.custody.test_adapters import bitgo_config

    http = custody_stack.http
    bitgo = (await _create(http, "bitgo", "BitGo", **bitgo_config(fakes.bitgo))).json()
    fakes.bitgo.token = "rotated-at-bitgo"  # the stored token is refused from now on
    facility = (await _proposal(custody_stack, bitgo["id"])).json()
    await wait_for(lambda: http.get(f"/api/v1/pending-credit-facilities/{facility['id']}"), lambda b: True)
    for _ in range(200):  # the workflow's step was refused (401), not retried
        if any(c.startswith("POST /api/v2/tbtc4/key") for c in fakes.bitgo.calls):
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)
    assert (await http.get(f"/api/v1/pending-credit-facilities/{facility['id']}")).json()["wallet"] is None
    assert fakes.bitgo.wallets == {}
    fixed = await http.put(f"/api/v1/custodians/{bitgo['id']}/config",
                           json=bitgo_config(fakes.bitgo, long_lived_token="rotated-at-bitgo"))
    assert fixed.status_code == 200, fixed.text
    url = f"/api/v1/credit-facilities/{facility['id']}/custody-wallet"
    made = await http.post(url)
    assert made.status_code == 200, made.text
    assert made.json()["address"] == next(iter(fakes.bitgo.wallets.values()))["receiveAddress"]["address"]
    assert (await http.post(url)).json() == made.json() and len(fakes.bitgo.wallets) == 1
    shown = (await http.get(f"/api/v1/pending-credit-facilities/{facility['id']}")).json()["wallet"]
    assert shown["wallet_id"] == made.json()["wallet_id"] and shown["provider"] == "BITGO"
    manual = (await _proposal(custody_stack, None)).json()
    await wait_for(lambda: http.get(f"/api/v1/pending-credit-facilities/{manual['id']}"), lambda b: True)
    r = await http.post(f"/api/v1/credit-facilities/{manual['id']}/custody-wallet")
    assert (r.status_code, r.json()["code"]) == (422, "common.validation_failed")
