import uuid

from activities import ledger
from activities.accounting import placement
from domain.accounting.product_sets import DEPOSIT_OMNIBUS, CustomerType, deposit_accounts


async def test_product_sets_and_accounts_are_idempotent(engine):
    ps = deposit_accounts(CustomerType.PRIVATE_COMPANY)
    assert ps.key == "deposit.accounts.private-company"
    aid = uuid.uuid4()
    for _ in range(2):
        async with engine.begin() as conn:
            set_id = await placement.product_set(conn, ps)
            await placement.product_account(conn, ps, account_id=aid, code=f"DEP.{aid}", name="acct")
            omni = await placement.omnibus_account(conn, DEPOSIT_OMNIBUS)
    async with engine.connect() as conn:
        members = await ledger.list_members(conn, set_id)
        assert [m["id"] for m in members] == [aid]
        assert (await ledger.get_account(conn, omni))["normal_balance_type"] == "debit"
