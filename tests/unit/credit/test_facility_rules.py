"""Pure facility rules (credit.md §4, §5, §11) and the credit ledger templates (ledger.md B5.2–B5.8)."""

import uuid
from datetime import UTC, date, datetime

import pytest

from domain.accounting.fiscal import first_open_date
from domain.credit.errors import (
    BelowMarginLimit,
    CollateralUpdateNotAllowed,
    DisbursalAmountTooLarge,
    DisbursalOnInactiveFacility,
    DisbursalPastMaturityDate,
    InvalidCollateralAmount,
    InvalidDisbursalAmount,
    OnlyOneDisbursalAllowed,
)
from domain.credit.facility import CreditFacility, check_disbursal_cvl, initial_disbursal_cents
from domain.credit.messages import FacilityState
from domain.credit.status import FacilityStatus, Stage
from domain.ledger import catalogue
from tests.credit_fixtures import terms

NOW = datetime(2026, 1, 10, 12, tzinfo=UTC)


def facility(**kw) -> CreditFacility:
    """A proposal (or, with ``kw``, a loan at any stage) over a fresh ``FacilityState``."""
    base = dict(id="f", customer_id="c", customer_type="Individual", amount_cents=100_000, terms=terms(),
                collateral_id="k", deposit_account_id="d")
    base.update(kw)
    return CreditFacility.of(FacilityState(**base))


def active(**kw) -> CreditFacility:
    return facility(stage=Stage.ACTIVE, status=FacilityStatus.ACTIVE, maturity_date=date(2026, 4, 10), **kw)


def test_collateral_only_on_pending_or_active():
    with pytest.raises(CollateralUpdateNotAllowed):
        facility().check_collateral_update(1)
    with pytest.raises(CollateralUpdateNotAllowed):
        facility(stage=Stage.DENIED).check_collateral_update(1)
    with pytest.raises(InvalidCollateralAmount):
        facility(stage=Stage.PENDING).check_collateral_update(-1)
    facility(stage=Stage.PENDING).check_collateral_update(0)
    active().check_collateral_update(5)


def test_disbursal_checks_in_spec_order():
    with pytest.raises(DisbursalOnInactiveFacility):
        facility(stage=Stage.PENDING).check_disbursal(1, NOW.date())
    with pytest.raises(OnlyOneDisbursalAllowed):
        active(terms=terms(disbursal_policy="SingleDisbursal")).check_disbursal(1, NOW.date())
    with pytest.raises(DisbursalPastMaturityDate):
        active().check_disbursal(1, date(2026, 4, 10))  # the maturity date itself
    with pytest.raises(InvalidDisbursalAmount):
        active().check_disbursal(0, NOW.date())
    with pytest.raises(DisbursalAmountTooLarge):
        active(drawn_cents=60_000).check_disbursal(40_001, NOW.date())
    active(drawn_cents=60_000).check_disbursal(40_000, NOW.date())  # exactly the remainder is allowed


def test_disbursal_cvl_gate_is_inclusive_at_margin_call():
    # $1,250 of collateral at $60,000 vs $1,000 outstanding after the draw: CVL 125 = margin call → allowed
    sats = 2_083_334  # 1250.0004 USD → 125_000 cents
    assert check_disbursal_cvl(terms(), sats, 60_000, 40_000, 6_000_000) == 125
    with pytest.raises(BelowMarginLimit):
        check_disbursal_cvl(terms(), sats, 60_000, 40_001, 6_000_000)


def test_initial_disbursal_amount():
    assert initial_disbursal_cents(terms(disbursal_policy="SingleDisbursal"), 100_000) == 100_000
    assert initial_disbursal_cents(terms(one_time_fee_rate="5.01"), 1_000) == 51  # fee, rounded up
    assert initial_disbursal_cents(terms(one_time_fee_rate="0"), 100_000) == 0


def _entries(code, **params):
    _, spec = catalogue.template(code).evaluate(params)
    return [(e.account_id, e.direction.value, e.layer.value, e.currency.value, e.units) for e in spec.entries]


def test_credit_templates_match_ledger_spec():
    fac, omni, unc, dr, dep, fee, coll, comni = (uuid.uuid4() for _ in range(8))
    assert _entries("CREATE_CREDIT_FACILITY_PROPOSAL", facility_omnibus_account_id=omni, facility_account_id=fac,
                    amount=5) == [(omni, "debit", "pending", "USD", 5), (fac, "credit", "pending", "USD", 5)]
    assert _entries("ACTIVATE_CREDIT_FACILITY", facility_omnibus_account_id=omni, facility_account_id=fac,
                    amount=5) == [(fac, "debit", "pending", "USD", 5), (omni, "credit", "pending", "USD", 5),
                                  (omni, "debit", "settled", "USD", 5), (fac, "credit", "settled", "USD", 5)]
    assert _entries("INITIATE_CREDIT_FACILITY_DISBURSAL", facility_account_id=fac,
                    uncovered_outstanding_account_id=unc, amount=7) == [
        (fac, "debit", "settled", "USD", 7), (unc, "credit", "settled", "USD", 7),
        (unc, "debit", "pending", "USD", 7), (fac, "credit", "pending", "USD", 7)]
    settle = dict(facility_account_id=fac, uncovered_outstanding_account_id=unc, disbursed_receivable_account_id=dr,
                  deposit_account_id=dep, amount=9)
    assert _entries("CONFIRM_DISBURSAL", **settle) == [
        (fac, "debit", "pending", "USD", 9), (unc, "credit", "pending", "USD", 9),
        (dr, "debit", "settled", "USD", 9), (dep, "credit", "settled", "USD", 9)]
    assert _entries("INITIAL_DISBURSAL", **settle) == [
        (fac, "debit", "settled", "USD", 9), (unc, "credit", "settled", "USD", 9),
        (dr, "debit", "settled", "USD", 9), (dep, "credit", "settled", "USD", 9)]
    assert _entries("ADD_STRUCTURING_FEE", deposit_account_id=dep, fee_income_account_id=fee, amount=3) == [
        (dep, "debit", "settled", "USD", 3), (fee, "credit", "settled", "USD", 3)]
    assert _entries("ADD_COLLATERAL", collateral_omnibus_account_id=comni, collateral_account_id=coll,
                    amount=100) == [(comni, "debit", "settled", "BTC", 100), (coll, "credit", "settled", "BTC", 100)]
    assert _entries("REMOVE_COLLATERAL", collateral_omnibus_account_id=comni, collateral_account_id=coll,
                    amount=100) == [(coll, "debit", "settled", "BTC", 100), (comni, "credit", "settled", "BTC", 100)]


def test_replays_are_answered_not_refused():
    f = active(collateral_seq=3)
    assert f.check_collateral_update(5, seq=3) is False  # update 3 already applied
    assert f.check_collateral_update(5, seq=4) is True
    flying = active(in_flight={"d1": 10}, drawn_cents=100_000)
    assert flying.check_disbursal(10, NOW.date(), "d1") is False  # the same request again, though nothing remains
    with pytest.raises(DisbursalAmountTooLarge):
        flying.check_disbursal(10, NOW.date(), "d2")


def test_lifecycle_records_its_events():
    f = facility(id=str(uuid.uuid4()))
    assert f.conclude_proposal(True, {"collateral": "c"}) and not f.conclude_proposal(False)
    assert (f.state.stage, f.accounts) == (Stage.PENDING, {"collateral": "c"})
    change = f.update_collateral(1, 2_333_334, None, NOW, "op")
    assert (change.amount, change.direction, change.effective) == (2_333_334, "add", NOW.date())
    assert f.update_collateral(2, 2_333_334, None, NOW, "op") is None  # same amount: nothing to post
    assert f.reevaluate(6_000_000) and f.ready_to_activate()
    assert f.activate(NOW, 2_333_333, 6_000_000) is None  # CVL 139 in the ledger: below initial CVL
    activation = f.activate(NOW, 2_333_334, 6_000_000)
    assert activation.fee_cents == 1_000 and activation.initial_disbursal.amount_cents == 1_000
    assert activation.obligation.dates.due_date == date(2026, 4, 10) == f.state.maturity_date
    assert activation.obligation.reference == f"initial-disbursal-{activation.initial_disbursal.id}"  # §5/§13
    assert [t for t, _ in f.pending] == [
        "proposal_concluded", "pending_facility_created", "collateral_updated", "collateralization_changed",
        "pending_facility_completed", "facility_activated", "initial_disbursal_settled", "structuring_fee_charged",
        "collateralization_changed"]
    assert (f.state.status, f.state.collateralization.value, f.state.drawn_cents) == (
        FacilityStatus.ACTIVE, "FullyCollateralized", 1_000)
    did = str(uuid.uuid4())
    d = f.initiate_disbursal(did, 50_000, "op", NOW, 1_000, 6_000_000)
    assert f.state.in_flight == {did: 50_000} and f.state.remaining_cents == 49_000
    obligation = f.conclude_disbursal(d, True, NOW.date())
    assert obligation.amount_cents == 50_000 and obligation.dates.overdue_date == date(2026, 5, 30)
    assert obligation.reference == f"disbursal-{did}"
    assert f.conclude_disbursal(d, False, NOW.date()) is None  # concluded already: nothing recorded
    assert (f.state.in_flight, f.state.disbursed_cents, [t for t, _ in d.pending]) == (
        {}, 51_000, ["initiated", "approved", "settled"])
    failing = f.initiate_disbursal(str(uuid.uuid4()), 20_000, "op", NOW, 51_000, 6_000_000)
    assert f.state.drawn_cents == 71_000
    assert f.fail_disbursal(failing, "ledger.account_locked", "locked") and not f.fail_disbursal(failing, "x", "y")
    assert (failing.status.value, failing.failure_code, [t for t, _ in failing.pending][1:]) == (
        "Failed", "ledger.account_locked", ["approved", "settlement_failed"])
    assert (f.state.in_flight, f.state.drawn_cents, f.state.disbursed_cents, f.state.failed_disbursals) == (
        {}, 51_000, 51_000, 1)
    assert f.state.last_disbursal_failure == f"{failing.id}: ledger.account_locked"


def test_first_open_date_follows_the_closed_period():
    assert first_open_date(date(2026, 2, 3), None) == date(2026, 2, 3)
    assert first_open_date(date(2026, 2, 3), date(2026, 1, 31)) == date(2026, 2, 3)
    assert first_open_date(date(2026, 1, 31), date(2026, 1, 31)) == date(2026, 2, 1)
    assert first_open_date(date(2026, 1, 15), date(2026, 1, 31)) == date(2026, 2, 1)
