"""The custody wallet's balance rules (domain/custody/wallet.py): a change only when the balance
differs from the latest, a release once, the collateral change dated on the UTC date."""

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from domain.custody.wallet import CustodyWallet, effective_date

T0 = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)


def test_a_balance_is_recorded_only_when_it_differs_from_the_latest():
    w = CustodyWallet(id="w-1", version=1)
    assert w.record_balance(150_000_000, T0)
    assert not w.record_balance(150_000_000, T0 + timedelta(minutes=1))  # equal: nothing
    assert w.record_balance(120_000_000, T0 + timedelta(minutes=2))
    assert w.record_balance(0, T0 + timedelta(minutes=3))  # emptied is a change too
    assert [p["new_balance"] for _, p in w.pending] == [150_000_000, 120_000_000, 0]
    with pytest.raises(ValueError):
        w.check_balance(-1)


def test_rebuilt_from_its_events_and_released_once():
    w = CustodyWallet(id="w-1")
    w.record_balance(5, T0)
    assert w.release(T0 + timedelta(days=1))
    assert not w.release(T0 + timedelta(days=2))
    from domain.events import Event

    events = [Event("custody_wallet", "w-1", i, t, p) for i, (t, p) in enumerate(w.pending, start=1)]
    again = CustodyWallet.rebuild("w-1", events)
    assert (again.balance_sats, again.balance_changed_at, again.released_at, again.version) == (
        5, T0, T0 + timedelta(days=1), 2)


def test_the_effective_date_is_the_utc_date_of_the_change():
    late_evening_west = datetime(2026, 1, 15, 22, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert effective_date(late_evening_west) == date(2026, 1, 16)
    assert effective_date(datetime(2026, 1, 15, 23, 59)) == date(2026, 1, 15)  # naive: taken as UTC


def test_the_activities_and_the_workflow_name_the_same_wallet_workflow():
    from activities.custody import wallet_sync
    from workflows.custody_wallet import CustodyWalletWorkflow, wallet_workflow_id

    assert wallet_sync.wallet_workflow_id("w-1") == wallet_workflow_id("w-1") == "custody-wallet-w-1"
    assert wallet_sync.WALLET_WORKFLOW == CustodyWalletWorkflow.__temporal_workflow_definition.name
