import json
import uuid

from sqlalchemy import text

from activities import ledger
from activities.accounting import chart, integration, placement
from activities.accounting.bootstrap import default_chart_csv, load_default_chart
from domain.accounting.product_sets import (
    DEPOSIT_OMNIBUS,
    INTEREST_INCOME,
    CustomerType,
    deposit_accounts,
    facility_set,
)
from tests.integration.accounting_helpers import default_chart


async def _member_ids(engine, set_id):
    async with engine.connect() as conn:
        return {m["id"] for m in await ledger.list_members(conn, set_id)}


async def test_default_chart_nodes_are_ledger_sets_rolling_up(engine):
    nodes = await default_chart(engine)
    assert len(nodes) == 81
    assert nodes["11.01"].account_set_id in await _member_ids(engine, nodes["11"].account_set_id)
    assert nodes["1"].account_set_id in await _member_ids(engine, chart.ROOT_SET_ID)
    async with engine.connect() as conn:
        s = await ledger.get_account_set(conn, nodes["21.01.0101"].account_set_id)
        assert (s["name"], s["normal_balance_type"]) == ("Deposits Payable", "credit")
        assert s["external_id"] == f"{chart.CHART_ID}.21.01.0101"
    # loaded once: a second run does nothing
    async with engine.begin() as conn:
        assert await load_default_chart(conn) is False


async def test_product_sets_attach_when_config_applied_and_when_created_later(engine):
    async with engine.begin() as conn:  # a product account created before accounting is configured
        early = uuid.uuid4()
        await placement.product_account(conn, deposit_accounts(CustomerType.BANK), account_id=early,
                                        code=f"DEP.{early}", name="early")
        assert await integration.node_for_product(conn, "deposit.accounts.bank") is None
    nodes = await default_chart(engine)
    deposits_payable = await _member_ids(engine, nodes["21.01.0101"].account_set_id)
    assert placement.product_set_id(deposit_accounts(CustomerType.BANK)) in deposits_payable
    async with engine.begin() as conn:  # created after: attached on first use
        omni = await placement.omnibus_account(conn, DEPOSIT_OMNIBUS)
        await placement.product_set(conn, INTEREST_INCOME)
        long_ps = facility_set("disbursed-receivable", "long", CustomerType.FOREIGN_AGENCY_OR_SUBSIDIARY)
        await placement.product_set(conn, long_ps)
        await placement.product_set(conn, deposit_accounts(CustomerType.FOREIGN_AGENCY_OR_SUBSIDIARY))
        assert await integration.node_for_product(conn, long_ps.key) == "11.02.0202"
        assert await integration.node_for_product(conn, "credit.facility.short.bank") == "81.01"
    assert placement.product_set_id(DEPOSIT_OMNIBUS) in await _member_ids(engine, nodes["11.01.0101"].account_set_id)
    assert placement.product_set_id(INTEREST_INCOME) in await _member_ids(engine, nodes["41.01"].account_set_id)
    assert placement.product_set_id(long_ps) in await _member_ids(engine, nodes["11.02.0202"].account_set_id)
    assert placement.product_set_id(deposit_accounts(CustomerType.FOREIGN_AGENCY_OR_SUBSIDIARY)) in \
        await _member_ids(engine, nodes["21.01.0101"].account_set_id)
    # balances roll up through the chart: a posting to the early account shows on node 2
    async with engine.begin() as conn:
        await ledger.post(conn, "RECORD_DEPOSIT", {"deposit_omnibus_account_id": omni, "credit_account_id": early,
                                                   "amount": 12_345}, idempotency_key="t:dep")
        assert (await ledger.set_balances(conn, nodes["2"].account_set_id))["USD"].settled == 12_345
        assert (await ledger.set_balances(conn, nodes["1"].account_set_id))["USD"].settled == 12_345


async def test_api_chart_import_accepts_multi_digit_top_levels_and_names_the_chart(stack):
    csv_text = "10,,,Assets,Debit\n,01,,Cash\n200,,,Liabilities,Credit\n"
    r = await stack.http.post("/api/v1/chart-of-accounts/import", files={"file": ("c.csv", csv_text, "text/csv")})
    assert r.status_code == 200, r.text
    chart = (await stack.http.get("/api/v1/chart-of-accounts")).json()
    assert r.json()["created"] == ["10", "10.01", "200"] and r.json()["chart_id"] == chart["id"]


async def test_api_chart_import_rejects_whole_file_and_adds_nodes(stack):
    http = stack.http
    bad = "1,,,Assets,Debit\n11,,,Current\n11,,,Current dup\n,,0101,Deep without 11.01? ok\n25,01,,Orphan\n"
    r = await http.post("/api/v1/chart-of-accounts/import", files={"file": ("c.csv", bad, "text/csv")})
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == "accounting.invalid_chart_csv"
    assert [(e["row"], e["reason"][:9]) for e in body["errors"]] == [(3, "duplicate"), (4, "column 2 "), (5, "code 25.0")]
    r = await http.get("/api/v1/chart-of-accounts")
    assert r.json()["nodes"] == []  # nothing imported

    r = await http.post("/api/v1/chart-of-accounts/import-with-base-config",
                        files={"file": ("c.csv", default_chart_csv(), "text/csv")},
                        data={"base_config": json.dumps({
                            "assets_code": "1", "liabilities_code": "2", "equity_code": "3", "revenue_code": "4",
                            "cost_of_revenue_code": "5", "expenses_code": "6",
                            "equity_retained_earnings_gain_code": "32.01",
                            "equity_retained_earnings_loss_code": "32.02"})})
    assert r.status_code == 200, r.text
    assert len(r.json()["created"]) == 81
    r = await http.post("/api/v1/chart-of-accounts/nodes", json={"parent": "11.01", "code": "11.01.0103",
                                                                   "name": "Crypto Cash"})
    assert r.status_code == 201, r.text
    assert r.json()["normal_balance"] == "DEBIT"
    again = await http.post("/api/v1/chart-of-accounts/nodes", json={"parent": "11.01", "code": "11.01.0103",
                                                                       "name": "Crypto Cash"})
    assert again.status_code == 201 and again.json()["account_set_id"] == r.json()["account_set_id"]
    r = await http.post("/api/v1/chart-of-accounts/nodes", json={"parent": "11", "code": "11.01.0104", "name": "X"})
    assert r.status_code == 422 and r.json()["code"] == "accounting.invalid_parent"
    r = await http.post("/api/v1/chart-of-accounts/nodes", json={"parent": "99", "code": "99.01", "name": "X"})
    assert r.status_code == 404 and r.json()["code"] == "accounting.parent_account_not_found"
    tree = (await http.get("/api/v1/chart-of-accounts")).json()
    assert [n["code"] for n in tree["nodes"]] == ["1", "2", "3", "4", "5", "6", "7", "8"]
    cash = tree["nodes"][0]["children"][0]["children"][0]
    assert [c["code"] for c in cash["children"]] == ["11.01.0101", "11.01.0102", "11.01.0103"]
    r = await http.get("/api/v1/chart-of-accounts/categories/revenue/account-sets")
    assert [n["code"] for n in r.json()][:2] == ["4", "41"]

    # module config: missing base-config keys and wrong categories are rejected, then set once
    r = await http.put("/api/v1/module-configs/deposit", json={"omnibus_parent_code": "21.01.0101"})
    assert r.status_code == 422
    from domain.accounting.defaults import DEPOSIT_CONFIG
    wrong = {**DEPOSIT_CONFIG, "omnibus_parent_code": "21.01.0101"}
    r = await http.put("/api/v1/module-configs/deposit", json=wrong)
    assert r.status_code == 422 and r.json()["code"] == "accounting.invalid_account_category"
    assert (await http.get("/api/v1/module-configs/deposit")).json()["config"] is None
    assert (await http.put("/api/v1/module-configs/deposit", json=DEPOSIT_CONFIG)).status_code == 200
    assert (await http.put("/api/v1/module-configs/deposit", json=DEPOSIT_CONFIG)).status_code == 200
    r = await http.put("/api/v1/module-configs/deposit", json={**DEPOSIT_CONFIG, "omnibus_parent_code": "11.01.0102"})
    assert r.status_code == 409 and r.json()["code"] == "accounting.config_already_set"


async def test_csv_round_trip_through_the_api_is_lossless(stack, engine):
    await default_chart(engine)
    async with engine.begin() as conn:
        await chart.add_child_node(conn, "81", "81.07", 'Name, with "quotes"')
    exported = (await stack.http.get("/api/v1/chart-of-accounts/csv"))
    assert exported.headers["content-type"].startswith("text/csv")
    # import the export into an empty chart (fresh schema objects): same nodes, names, parents, sides
    async with engine.begin() as conn:
        before = {(n.code, n.name, n.parent, n.normal_balance) for n in (await chart.nodes(conn)).values()}
        await conn.execute(text("DELETE FROM accounting_chart_nodes"))
        await chart.import_csv(conn, exported.text)
        after = {(n.code, n.name, n.parent, n.normal_balance) for n in (await chart.nodes(conn)).values()}
        await conn.rollback()
    assert len(before) == 82 and after == before


async def test_bootstrap_step_loads_the_default_chart_once(db_url, engine):
    from tests.harness import test_settings
    from workers.bootstrap import STEPS, seed_accounting

    assert seed_accounting in STEPS
    settings = test_settings(db_url)
    await seed_accounting(settings)
    async with engine.begin() as conn:  # an operator renames nothing but adds a node...
        await chart.add_child_node(conn, "61", "61.05", "Software")
    await seed_accounting(settings)  # ...and a restart does not re-import or fail
    async with engine.connect() as conn:
        assert len(await chart.nodes(conn)) == 82
        assert (await chart.base_config(conn)).codes["revenue_code"] == "4"
        assert await integration.get_module_config(conn, "credit") is not None
