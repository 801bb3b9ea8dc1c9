"""A KYC freeze/unfreeze and deposits for the same customer never deadlock (docs/deposits.md, lock order).

The KYC side runs the customer module's own transaction (the code of the
``customer.apply_kyc_to_deposit_accounts`` activity that the KYC workflow runs); the deposits go
through the API. Before the lock order was fixed, the freeze held the customer row and waited for
the account while a deposit held the account and waited for the customer: PostgreSQL aborted one
(deadlock detected) and the deposit answered 500.
"""

from __future__ import annotations

import asyncio
import uuid

from activities.customers import deposit_account_hooks
from domain.customers.model import DepositAccountAction
from tests.integration.deposits_helpers import deposit, open_account, verified_customer

ROUNDS = 12
DEPOSITS_PER_ROUND = 4


async def _kyc(stack, customer_id: str, action: DepositAccountAction) -> None:
    async with stack.engine.begin() as conn:
        await deposit_account_hooks.apply_kyc_to_deposit_accounts(
            conn, customer_id, action, "sumsub review", f"kyc:{uuid.uuid4()}")


async def test_kyc_freeze_and_deposits_never_deadlock(stack):
    customer_id = await verified_customer(stack)
    account = await open_account(stack, customer_id)
    statuses = []
    for i in range(ROUNDS):
        action = DepositAccountAction.FREEZE if i % 2 == 0 else DepositAccountAction.UNFREEZE
        results = await asyncio.gather(
            _kyc(stack, customer_id, action),
            *(deposit(stack, account, 100 + j) for j in range(DEPOSITS_PER_ROUND)),
            return_exceptions=True)
        kyc_result, responses = results[0], results[1:]
        assert kyc_result is None, f"KYC transaction failed: {kyc_result!r}"
        for r in responses:
            assert not isinstance(r, BaseException), repr(r)
            assert r.status_code < 500, r.text
            statuses.append(r.status_code)
    assert 201 in statuses  # deposits did land between the freezes
