"""One enum spelling in the whole HTTP API (api/enums.py): SCREAMING_SNAKE_CASE out, any spelling of
a known value in, and a 422 that lists the accepted values for an unknown one."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from api.app import create_app
from api.enums import ApiEnum, canonical_openapi, is_canonical, normalize
from domain.deposits.model import WithdrawalStatus
from domain.governance.voting import ApprovalStatus
from ground.settings import Settings

API = "/api/v1"


def non_canonical_enums(node: Any, path: str = "") -> list[tuple[str, Any]]:
    """Every enum value, const and enum default in an OpenAPI document that is not SCREAMING_SNAKE."""
    bad: list[tuple[str, Any]] = []
    if isinstance(node, dict):
        values = list(node.get("enum") or [])
        if "const" in node:
            values.append(node["const"])
        alternatives = [a for a in node.get("anyOf", []) + node.get("oneOf", []) if isinstance(a, dict)]
        if (values or any("enum" in a for a in alternatives)) and node.get("default") is not None:
            values.append(node["default"])
        bad += [(path, v) for v in values if isinstance(v, str) and not is_canonical(v)]
        for key, value in node.items():
            bad += non_canonical_enums(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            bad += non_canonical_enums(value, f"{path}/{i}")
    return bad


# -- (1) the OpenAPI document --------------------------------------------------------------------


def test_every_enum_in_the_openapi_document_is_screaming_snake():
    doc = create_app(Settings(environment="test")).openapi()
    assert non_canonical_enums(doc) == []
    # the walk does see the enums: request bodies, responses and query parameters
    text = repr(doc)
    for value in ("PENDING_APPROVAL", "FULLY_COLLATERALIZED", "INDIVIDUAL", "IN_PROGRESS", "DESC", "DEBIT",
                  "CREDIT_FACILITY_PROPOSAL", "END_OF_MONTH", "SINGLE_DISBURSAL", "AUTO_APPROVE"):
        assert f"'{value}'" in text, value
    params = {(p["name"], path) for path, ops in doc["paths"].items() for op in ops.values()
              for p in op.get("parameters", []) if "enum" in repr(p["schema"])}
    assert ("status", f"{API}/withdrawals") in params and ("direction", f"{API}/customers") in params
    direction = next(p for p in doc["paths"][f"{API}/customers"]["get"]["parameters"] if p["name"] == "direction")
    assert direction["schema"]["enum"] == ["ASC", "DESC"] and direction["schema"]["default"] == "DESC"


def test_the_check_fails_on_a_non_conforming_enum():
    fabricated = {"paths": {"/x": {"get": {"parameters": [
        {"name": "direction", "schema": {"type": "string", "enum": ["asc", "DESC"], "default": "desc"}}]}}},
        "components": {"schemas": {"S": {"properties": {
            "status": {"anyOf": [{"enum": ["InProgress"]}, {"type": "null"}]}, "kind": {"const": "auto_approve"}}}}}}
    assert [v for _, v in non_canonical_enums(fabricated)] == ["asc", "desc", "InProgress", "auto_approve"]

    # a route that exposes a domain enum directly (not through ApiEnum) is caught
    class Mood(StrEnum):
        VERY_HAPPY = "VeryHappy"

    class Out(BaseModel):
        mood: Mood
        status: ApiEnum[ApprovalStatus]

    app = FastAPI()

    @app.get("/mood", response_model=Out)
    async def mood() -> Out:  # pragma: no cover - never called
        raise NotImplementedError

    bad = non_canonical_enums(canonical_openapi(app.openapi()))
    assert [v for _, v in bad] == ["VeryHappy"]


@pytest.mark.parametrize(("spelling", "canonical"), [
    ("FullyCollateralized", "FULLY_COLLATERALIZED"), ("fullyCollateralized", "FULLY_COLLATERALIZED"),
    ("fully-collateralized", "FULLY_COLLATERALIZED"), ("Fully collateralized", "FULLY_COLLATERALIZED"),
    ("in_progress", "IN_PROGRESS"), ("credit-facility-proposal", "CREDIT_FACILITY_PROPOSAL"),
    ("NotKyced", "NOT_KYCED"), ("PENDING_APPROVAL", "PENDING_APPROVAL"), ("USD", "USD"), (" desc ", "DESC"),
])
def test_normalize(spelling, canonical):
    assert normalize(spelling) == canonical


# -- (2) old spellings keep working on input ----------------------------------------------------


async def test_old_spellings_are_accepted(stack):
    http = stack.http
    for spelling in ("Individual", "individual", "INDIVIDUAL"):
        r = await http.post(f"{API}/customers", json={
            "email": f"{uuid.uuid4().hex[:10]}@example.com", "telegram_handle": f"h{uuid.uuid4().hex[:10]}",
            "customer_type": spelling})
        assert r.status_code == 201, r.text
        assert (r.json()["customer_type"], r.json()["kyc_status"]) == ("INDIVIDUAL", "PENDING_VERIFICATION")
    r = await http.post(f"{API}/customers", json={
        "email": f"{uuid.uuid4().hex[:10]}@example.com", "telegram_handle": f"h{uuid.uuid4().hex[:10]}",
        "customer_type": "private-company"})
    assert r.status_code == 201 and r.json()["customer_type"] == "PRIVATE_COMPANY", r.text

    for params in ({"customer_type": "Individual", "direction": "asc"}, {"customer_type": "INDIVIDUAL"},
                   {"customer_type": "individual", "kyc_status": "PendingVerification", "direction": "DESC"}):
        r = await http.get(f"{API}/customers", params=params)
        assert r.status_code == 200, r.text
        assert [c["customer_type"] for c in r.json()["items"]] == ["INDIVIDUAL"] * 3, params

    for params in ({"status": "in_progress"}, {"status": "IN_PROGRESS"}, {"status": "InProgress"},
                   {"process_type": "credit-facility-proposal"}, {"process_type": "CREDIT_FACILITY_PROPOSAL"}):
        assert (await http.get(f"{API}/approval-processes", params=params)).status_code == 200, params
    for params in ({"status": "PENDING_APPROVAL"}, {"status": "pending_approval", "direction": "asc"},
                   {"status": "PendingApproval"}):
        assert (await http.get(f"{API}/withdrawals", params=params)).status_code == 200, params
    assert (await http.get(f"{API}/credit-facilities", params={
        "status": "Active", "collateralization_state": "FullyCollateralized"})).status_code == 200

    # a tagged union (policy rules) takes the old tag too, and answers with the new one
    me = (await http.get(f"{API}/me")).json()["user"]["id"]
    committee = (await http.post(f"{API}/committees", json={"name": "spelling", "member_user_ids": [me]})).json()
    policy = next(p for p in (await http.get(f"{API}/policies")).json()["items"] if p["process_type"] == "DISBURSAL")
    r = await http.put(f"{API}/policies/{policy['id']}/rules",
                       json={"type": "committee", "committee_id": committee["id"], "threshold": 1})
    assert r.status_code == 200, r.text
    assert r.json()["rules"] == {"type": "COMMITTEE", "committee_id": committee["id"], "threshold": 1}
    assert r.json()["process_type"] == "DISBURSAL"


# -- (3) a wrong value is a 422 that lists the accepted values ----------------------------------


async def _rejected(response, loc: list[str], accepted: list[str]) -> None:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "common.validation_failed"
    entry = next(e for e in body["errors"] if e["loc"] == loc)
    assert entry["accepted"] == accepted
    assert entry["msg"] == f"Input should be one of: {', '.join(accepted)}"


async def test_a_wrong_value_lists_the_accepted_ones(stack):
    http = stack.http
    await _rejected(await http.get(f"{API}/withdrawals", params={"status": "pending"}), ["query", "status"],
                    [normalize(s.value) for s in WithdrawalStatus])
    await _rejected(await http.get(f"{API}/withdrawals", params={"direction": "up"}), ["query", "direction"],
                    ["ASC", "DESC"])
    await _rejected(await http.get(f"{API}/approval-processes", params={"status": "open"}), ["query", "status"],
                    ["IN_PROGRESS", "APPROVED", "DENIED", "CANCELLED"])
    r = await http.post(f"{API}/customers", json={"email": "x@example.com", "telegram_handle": "x",
                                                  "customer_type": "Person"})
    await _rejected(r, ["body", "customer_type"], ["INDIVIDUAL", "GOVERNMENT_ENTITY", "PRIVATE_COMPANY", "BANK",
                                                   "FINANCIAL_INSTITUTION", "FOREIGN_AGENCY_OR_SUBSIDIARY",
                                                   "NON_DOMICILED_COMPANY"])
    # a literal left in a nested domain model (the terms' duration period) lists its values too
    r = await http.post(f"{API}/terms-templates", json={"name": "t", "terms": {"duration": {"period": "WEEKS"}}})
    await _rejected(r, ["body", "terms", "duration", "period"], ["MONTHS"])
    policy = (await http.get(f"{API}/policies")).json()["items"][0]
    r = await http.put(f"{API}/policies/{policy['id']}/rules", json={"type": "everyone"})
    assert r.status_code == 422 and r.json()["errors"][0]["accepted"] == ["COMMITTEE", "AUTO_APPROVE"], r.text
