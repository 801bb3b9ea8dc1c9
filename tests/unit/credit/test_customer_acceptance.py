"""The customer-decision step (credit.md §4.2, CR5): the terms field, its defaults, the rule."""

from __future__ import annotations

import uuid

import pytest
from pydantic import BaseModel, TypeAdapter

from domain.credit.errors import CustomerDecisionNotPending
from domain.credit.facility import CreditFacility
from domain.credit.status import ProposalStatus, Stage
from domain.credit.terms import TermValues, TermValuesInput
from tests.credit_fixtures import terms, terms_json


def _proposal(**kw) -> CreditFacility:
    f = CreditFacility.propose(str(uuid.uuid4()), "c", "Individual", 100_000, terms(**kw), "d", None, "user:t")
    f.pending.clear()
    return f


def test_stored_terms_without_the_field_keep_todays_path():
    """Rows, events and workflow histories written before the step have no key: no customer step."""
    assert TermValues.model_validate(terms_json()).customer_acceptance_required is False
    assert _proposal().state.proposal_status is ProposalStatus.PENDING_APPROVAL


def test_request_terms_default_to_the_step_and_can_turn_it_off():
    class Body(BaseModel):
        terms: TermValuesInput

    on = Body.model_validate({"terms": terms_json()}).terms
    off = TypeAdapter(TermValuesInput).validate_python(terms_json(customer_acceptance_required=False))
    assert (type(on), on.customer_acceptance_required) == (TermValues, True)  # a plain TermValues
    assert off.customer_acceptance_required is False
    assert on == terms(customer_acceptance_required=True)
    assert "customer_acceptance_required" in Body.model_json_schema()["$defs"]["NewTermValues"]["properties"]


def test_acceptance_then_governance():
    f = _proposal(customer_acceptance_required=True)
    assert f.state.proposal_status is ProposalStatus.PENDING_CUSTOMER_APPROVAL
    assert f.state.customer_accepted is None
    assert not f.check_conclude_proposal()  # governance only after the customer
    assert f.conclude_customer_approval(True, "user:t")
    assert f.pending == [("customer_approval_concluded", {"approved": True, "actor": "user:t"})]
    assert (f.state.proposal_status, f.state.customer_accepted) == (ProposalStatus.PENDING_APPROVAL, True)
    assert f.check_conclude_proposal()
    assert not f.conclude_customer_approval(True, "user:t")  # the same decision again: a retried step
    with pytest.raises(CustomerDecisionNotPending):  # another decision, or an Update's validator
        f.check_customer_decision(False)
    with pytest.raises(CustomerDecisionNotPending):
        f.check_customer_decision()
    assert len(f.pending) == 1


def test_rejection_ends_the_proposal():
    f = _proposal(customer_acceptance_required=True)
    assert f.conclude_customer_approval(False, "user:t")
    assert (f.state.stage, f.state.proposal_status, f.state.status_label) == (
        Stage.DENIED, ProposalStatus.CUSTOMER_DENIED, "CustomerDenied")
    assert f.state.customer_accepted is False
    assert not f.check_conclude_proposal()
    with pytest.raises(CustomerDecisionNotPending) as refused:
        f.check_customer_decision(True)
    assert (refused.value.status, refused.value.code) == (409, "credit.customer_decision_not_pending")


def test_no_decision_on_terms_without_the_step():
    with pytest.raises(CustomerDecisionNotPending):
        _proposal().check_customer_decision(True)
