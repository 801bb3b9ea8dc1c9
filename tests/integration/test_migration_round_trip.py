"""The posting-function revisions downgrade and upgrade cleanly, and posting works after."""

import asyncio
import uuid

from alembic import command

from activities import ledger
from activities.migrate import alembic_config
from tests.integration.ledger_helpers import make_account


async def test_ledger_post_downgrade_then_upgrade(db_url, engine):
    cfg = alembic_config(db_url)
    await asyncio.to_thread(command.downgrade, cfg, "0008_accounting")
    await asyncio.to_thread(command.upgrade, cfg, "heads")
    await engine.dispose()  # prepared statements of the replaced function
    a = await make_account(engine, "debit")
    b = await make_account(engine, "credit")
    tx = await ledger.post(engine, "TRANSFER", {"from_account_id": a, "to_account_id": b, "amount": 123}, idempotency_key=f"rt-{uuid.uuid4()}")
    assert len(tx.entries) == 2
