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
