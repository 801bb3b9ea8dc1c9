"""Pure rules of deposit accounts and withdrawals (customers-deposits.md §8.3, §12)."""

import pytest

from domain.deposits import errors
from domain.deposits.model import AccountStatus, DepositAccount, Withdrawal, WithdrawalStatus


def test_account_states():
    a = DepositAccount.open("a", "c", "Individual", "f", "user:x")
    a.ensure_active("deposit")
    assert a.freeze(10, "user:x") and not a.freeze(10, "user:x")
    with pytest.raises(errors.DepositAccountFrozen, match="FROZEN"):
        a.ensure_active("record a deposit")
    with pytest.raises(errors.CannotUpdateFrozenAccount):
        a.close("user:x")
    assert a.unfreeze(10, "user:x") and a.close("user:x") and not a.close("user:x")
    with pytest.raises(errors.DepositAccountClosed, match="CLOSED"):
        a.ensure_active("withdraw")
    with pytest.raises(errors.CannotUpdateClosedAccount):
        a.freeze(0, "user:x")
    rebuilt = DepositAccount(id="a")
    for i, (t, p) in enumerate(a.pending, 1):
        rebuilt.apply(t, p)
        rebuilt.version = i
    assert rebuilt.status == AccountStatus.CLOSED


def test_withdrawal_state_machine():
    w = Withdrawal.initiate("w", "a", 100, "ref", "user:x")
    with pytest.raises(errors.NotApproved, match="PENDING_APPROVAL"):
        w.confirm("tx", "user:x")
    assert not w.conclude_approval(True) and w.status == WithdrawalStatus.PENDING_CONFIRMATION
    assert not w.conclude_approval(False)  # replay of a conclusion is a no-op
    assert w.confirm("tx", "user:x") and not w.confirm("tx", "user:x")
    with pytest.raises(errors.AlreadyConfirmed):
        w.cancel("tx", "user:x")
    assert w.revert("tx", "user:x") and not w.revert("tx", "user:x")


def test_denied_cannot_be_cancelled_and_cancelled_ignores_conclusion():
    denied = Withdrawal.initiate("w", "a", 100, "ref", "user:x")
    assert denied.conclude_approval(False)  # the reservation must be released
    with pytest.raises(errors.InvalidWithdrawalState, match="DENIED"):  # W1
        denied.cancel("tx", "user:x")
    cancelled = Withdrawal.initiate("w2", "a", 100, "ref2", "user:x")
    assert cancelled.cancel("tx", "user:x")
    assert not cancelled.conclude_approval(False)  # W2: no second release
    assert cancelled.status == WithdrawalStatus.CANCELLED and cancelled.approved is False
    with pytest.raises(errors.AlreadyCancelled):
        cancelled.revert("tx", "user:x")
