"""Terms templates through the API: create [IK], validation problems, update, get, list, permissions."""

from sqlalchemy import select

from activities.event_store import events
from tests.credit_fixtures import terms_json


async def create(http, name="Standard", headers=None, **overrides):
    return await http.post("/api/v1/terms-templates", json={"name": name, "terms": terms_json(**overrides)},
                           headers=headers or {})


async def test_create_get_update_list(stack):
    r = await create(stack.http)
    assert r.status_code == 201, r.text
    body = r.json()
    assert r.headers["location"] == f"/api/v1/terms-templates/{body['id']}"
    assert body["terms"]["initial_cvl"] == "140" and body["terms"]["duration"] == {"period": "MONTHS", "units": 3}
    assert body["duration_class"] == "SHORT_TERM" and body["effective_annual_rate"] == "16"
    assert body["version"] == 1

    got = await stack.http.get(f"/api/v1/terms-templates/{body['id']}")
    assert got.json() == body

    changed = await stack.http.put(f"/api/v1/terms-templates/{body['id']}",
                                   json={"terms": terms_json(annual_rate="10.5")})
    assert changed.status_code == 200 and changed.json()["terms"]["annual_rate"] == "10.5"
    assert changed.json()["version"] == 2
    same = await stack.http.put(f"/api/v1/terms-templates/{body['id']}",
                                json={"terms": terms_json(annual_rate="10.50")})
    assert same.json()["version"] == 2  # identical values: no event

    await create(stack.http, name="Second")
    await create(stack.http, name="Third")
    page1 = (await stack.http.get("/api/v1/terms-templates?first=2")).json()
    assert [t["name"] for t in page1["items"]] == ["Third", "Second"]
    page2 = (await stack.http.get(f"/api/v1/terms-templates?first=2&after={page1['next_cursor']}")).json()
    assert [t["name"] for t in page2["items"]] == ["Standard"] and page2["next_cursor"] is None

    async with stack.engine.connect() as conn:
        types = [r.event_type for r in await conn.execute(
            select(events.c.event_type).where(events.c.entity_id == body["id"]).order_by(events.c.sequence))]
    assert types == ["initialized", "term_values_updated"]


async def test_invalid_terms_are_problems_naming_every_field_and_change_nothing(stack):
    r = await create(stack.http, initial_cvl="120", margin_call_cvl="125", liquidation_cvl="130",
                     annual_rate="101")
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert problem["code"] == "credit.invalid_term_values"
    assert problem["field"] == "annual_rate"
    assert {(e["field"], e["error"]) for e in problem["errors"]} == {
        ("annual_rate", "out_of_range"), ("margin_call_cvl", "margin_call_above_initial_limit"),
        ("margin_call_cvl", "margin_call_below_liquidation_limit")}
    bad_type = await create(stack.http, duration={"period": "DAYS", "units": 3})
    assert bad_type.status_code == 422 and bad_type.json()["code"] == "common.validation_failed"
    assert (await stack.http.get("/api/v1/terms-templates")).json()["items"] == []

    ok = (await create(stack.http)).json()
    bad_update = await stack.http.put(f"/api/v1/terms-templates/{ok['id']}",
                                      json={"terms": terms_json(initial_cvl="125")})
    assert bad_update.status_code == 422 and bad_update.json()["field"] == "margin_call_cvl"
    assert (await stack.http.get(f"/api/v1/terms-templates/{ok['id']}")).json() == ok


async def test_duplicate_name_idempotency_key_and_not_found(stack):
    first = await create(stack.http, headers={"Idempotency-Key": "k1"})
    replay = await create(stack.http, headers={"Idempotency-Key": "k1"})
    assert first.status_code == replay.status_code == 201 and replay.json() == first.json()
    reused = await create(stack.http, headers={"Idempotency-Key": "k1"}, annual_rate="9")
    assert reused.status_code == 422 and reused.json()["code"] == "common.idempotency_key_reused"
    dup = await create(stack.http, name="standard")
    assert dup.status_code == 409 and dup.json()["code"] == "credit.duplicate_terms_template_name"
    missing = await stack.http.get("/api/v1/terms-templates/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404 and missing.json()["code"] == "credit.terms_template_not_found"


async def test_permissions(stack):
    template = (await create(stack.http)).json()
    manager = await stack.client_for("manager@bank.test", "bank-manager")  # no terms-template sets
    assert (await manager.get("/api/v1/terms-templates")).status_code == 403
    assert (await create(manager, name="X")).status_code == 403
    admin = await stack.client_for("admin2@bank.test", "admin")
    assert (await admin.get(f"/api/v1/terms-templates/{template['id']}")).status_code == 200
    assert (await create(admin, name="By admin")).status_code == 201


async def test_the_day_count_convention_is_a_term(stack):
    """Act/365 fixed unless the product says otherwise (issue 17); any spelling of a known value,
    one canonical spelling out, an unknown one is refused listing the values."""
    r = await create(stack.http)
    assert r.status_code == 201 and r.json()["terms"]["day_count_convention"] == "ACT_365_FIXED"
    r = await create(stack.http, name="Money market", day_count_convention="act_360")
    assert r.status_code == 201 and r.json()["terms"]["day_count_convention"] == "ACT_360"
    changed = await stack.http.put(f"/api/v1/terms-templates/{r.json()['id']}",
                                   json={"terms": terms_json(day_count_convention="ACT_ACT_ISDA")})
    assert changed.json()["terms"]["day_count_convention"] == "ACT_ACT_ISDA" and changed.json()["version"] == 2
    r = await create(stack.http, name="Bad", day_count_convention="30/360")
    assert r.status_code == 422 and r.json()["code"] == "common.validation_failed"
    [error] = r.json()["errors"]
    assert error["accepted"] == ["ACT_365_FIXED", "ACT_360", "ACT_ACT_ISDA"], error
    from tests.integration.credit.facility_helpers import customer_with_deposit, propose

    customer_id, _ = await customer_with_deposit(stack)
    r = await propose(stack.http, customer_id, day_count_convention="Act_Act_Isda")
    assert r.status_code == 201 and r.json()["terms"]["day_count_convention"] == "ACT_ACT_ISDA"
    r = await propose(stack.http, customer_id, day_count_convention="actual/360")
    assert r.status_code == 422
