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


def test_connection_level_database_errors_are_store_unavailable():
    import asyncpg
    from sqlalchemy.exc import InterfaceError, OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    from api.errors import store_unavailable

    class _Adapted(Exception):  # what SQLAlchemy's asyncpg adapter wraps asyncpg errors in
        pass

    def wrapped(cls, driver_error):
        orig = _Adapted(str(driver_error))
        orig.__cause__ = driver_error
        return cls("SELECT 1", {}, orig)

    assert store_unavailable(PoolTimeout("QueuePool limit reached"))
    assert store_unavailable(wrapped(OperationalError, RuntimeError("server closed the connection")))
    assert store_unavailable(wrapped(InterfaceError, asyncpg.ConnectionDoesNotExistError("closed")))
    assert store_unavailable(asyncpg.CannotConnectNowError("the database system is starting up"))
    # A bad bind value (asyncpg's DataError is an InterfaceError too) is the request's fault, not the store's.
    assert not store_unavailable(wrapped(InterfaceError, asyncpg.DataError("value out of int64 range")))
    assert not store_unavailable(ConnectionRefusedError("a provider, not the database"))
    assert not store_unavailable(RuntimeError("boom"))


def test_a_literal_or_plain_enum_mismatch_lists_the_accepted_values_canonically():
    """Pydantic's own enum / literal / tag errors (a type not built with api/enums.py) also say the
    accepted values in the API's spelling."""
    from enum import StrEnum
    from typing import Literal

    from pydantic import BaseModel, ValidationError

    from api.errors import _jsonable_errors

    class Side(StrEnum):
        DEBIT = "debit"
        CREDIT = "credit"

    class M(BaseModel):
        kind: Literal["in_progress", "FullyCollateralized"]
        side: Side

    try:
        M.model_validate({"kind": "x", "side": "y"})
    except ValidationError as exc:
        errors = _jsonable_errors(exc.errors())
    assert errors == [
        {"loc": ["kind"], "type": "enum", "accepted": ["IN_PROGRESS", "FULLY_COLLATERALIZED"],
         "msg": "Input should be one of: IN_PROGRESS, FULLY_COLLATERALIZED"},
        {"loc": ["side"], "type": "enum", "accepted": ["DEBIT", "CREDIT"], "msg": "Input should be one of: DEBIT, CREDIT"},
    ]
