from domain.errors import Conflict, NotFound, from_code


def test_codes_round_trip_for_workflow_failures():
    err = from_code("common.not_found", "no such thing")
    assert isinstance(err, NotFound) and err.status == 404 and err.detail == "no such thing"


def test_unknown_code_keeps_code_and_status():
    err = from_code("deposit.already_confirmed", "already", status=409)
    assert err.code == "deposit.already_confirmed" and err.status == 409


def test_subclass_code_override():
    err = Conflict("dup", code="customer.email_taken")
    assert err.code == "customer.email_taken" and err.status == 409
