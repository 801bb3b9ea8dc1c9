"""Item 4: the loan reports reconcile to the ledger after a scripted month of activity, through
the API with the worker running (dev server, simulated clock from 2025-01-15).

Two facilities are activated on Jan 15: A ($10,000, no fee, 1 BTC) and B ($5,000, 1 % structuring
fee, 0.5 BTC). The end of day runs Jan 15 … Jan 31 (January's interest posted and due), on Feb 1 A
pays $60 (its January interest and some principal) and B $10 (part of its January interest,
which stays due), then Feb 1 … Feb 14 close. The portfolio, the per-loan statement, the payment
history, the net-risk calculation and the chart-of-accounts balance (as of Jan 31 and Feb 14) are
generated through ``POST /report-runs`` and every total is compared with the ledger: the
facilities' balance summaries and the trial balance."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from decimal import Decimal
from urllib.parse import urlsplit

from domain.reports import risk
from tests.harness import Stack
from tests.integration.accounting_helpers import default_chart
from tests.integration.credit.facility_helpers import (
    PRICE,
    customer_with_deposit,
    propose,
    set_price,
    wait_for,
)

API = "/api/v1"
ADVANCE = f"{API}/time/advance-to-next-end-of-day"
BTC = 100_000_000


def _c(dollars: str) -> int:
    """A report's decimal dollars → cents, exactly (a float would not do)."""
    value = Decimal(dollars) * 100
    assert value == value.to_integral_value(), dollars
    return int(value)


async def _get(http, path: str, **params):
    r = await http.get(f"{API}{path}", params=params)
    assert r.status_code == 200, r.text
    return r.json()


async def _activate(stack, amount: int, sats: int, fee: str) -> str:
    http = stack.http
    customer_id, _ = await customer_with_deposit(stack)
    body = (await propose(http, customer_id, amount, disbursal_policy="SingleDisbursal",
                          one_time_fee_rate=fee)).json()
    await wait_for(lambda: http.get(f"{API}/pending-credit-facilities/{body['id']}"),
                   lambda b: b["pending_status"] == "PENDING_COLLATERALIZATION")
    r = await http.post(f"{API}/collaterals/{body['collateral_id']}/manual-update", json={"collateral": sats})
    assert r.status_code == 200 and r.json()["status"] == "ACTIVE", r.text
    return body["id"]


async def _report(stack, definition_id: str, as_of: str | None = None) -> list[dict[str, str]]:
    """Run one definition through the API and read its CSV through its signed link."""
    http = stack.http
    body = {"report_definition_id": definition_id, **({"as_of_date": as_of} if as_of else {})}
    r = await http.post(f"{API}/report-runs", json=body)
    assert r.status_code == 202, r.text
    run = await wait_for(lambda: http.get(f"{API}/report-runs/{r.json()['id']}"),
                         lambda b: b["state"] in ("SUCCESS", "FAILED"), within=60)
    assert run["state"] == "SUCCESS", run
    [report] = run["reports"]
    link = await http.post(f"{API}/reports/{report['id']}/download-link", json={"extension": "csv"})
    url = urlsplit(link.json()["url"])
    got = await stack.anonymous().get(f"{url.path}?{url.query}")
    assert got.status_code == 200, got.text
    rows = list(csv.DictReader(io.StringIO(got.text)))
    assert len(rows) == report["row_count"]
    return rows


async def test_loan_reports_reconcile_to_the_ledger_after_a_month(db_url, engine, dev_env, tmp_path):
    async with Stack.start(db_url, engine, dev_env.client, kyc_required=False, clock_mode="simulated",
                           simulated_clock_start="2025-01-15T10:00:00Z", documents_dir=tmp_path) as stack:
        http = stack.http
        await default_chart(engine)
        await set_price(engine, PRICE)
        a = await _activate(stack, 1_000_000, BTC, "0")
        b = await _activate(stack, 500_000, BTC // 2, "1")
        r = await http.post(ADVANCE, json={"days": 17})  # Jan 15 … Jan 31
        assert r.status_code == 200, r.text
        for fid, amount in ((a, 6_000), (b, 1_000)):
            r = await http.post(f"{API}/credit-facilities/{fid}/payments", json={"amount": amount})
            assert r.status_code == 201, r.text
        r = await http.post(ADVANCE, json={"days": 14})  # Feb 1 … Feb 14
        assert r.status_code == 200, r.text
        assert (await _get(http, "/time"))["business_date"] == "2025-02-15"

        bal = {fid: await _get(http, f"/credit-facilities/{fid}/balance") for fid in (a, b)}
        assert bal[b]["due_interest_outstanding"] > 0  # B's January interest is still partly due
        paid = {fid: bal[fid]["disbursed"] + bal[fid]["interest_posted"] - bal[fid]["total_outstanding"]
                for fid in (a, b)}
        assert paid == {a: 6_000, b: 1_000}

        # the portfolio: each loan's balances are its ledger balances; days past due from Jan 31
        cartera = {row["id_linea_credito"]: row for row in await _report(stack, "other/reporte_de_cartera_de_prestamos")}
        assert set(cartera) == {a, b}
        for fid in (a, b):
            row, s = cartera[fid], bal[fid]
            assert (_c(row["saldo_capital"]), _c(row["saldo_interes"]), _c(row["saldo_total"])) == (
                s["disbursed_outstanding"], s["interest_outstanding"], s["total_outstanding"]), fid
            assert int(row["garantia_sats"].replace(".", "")) == s["collateral"]
        assert (cartera[a]["dias_mora"], cartera[a]["calificacion"]) == ("0", "A1")
        assert (cartera[b]["dias_mora"], cartera[b]["calificacion"]) == ("15", "A2")  # due since Jan 31
        assert _c(cartera[b]["reserva"]) == risk.reserve(bal[b]["total_outstanding"], Decimal("2"))
        bs = await _get(http, "/statements/balance-sheet", as_of="2025-02-15", currency="USD", layer="SETTLED")
        assets = {ln["code"]: ln["balance"] for ln in bs["assets"]["lines"]}
        assert sum(_c(r["saldo_capital"]) for r in cartera.values()) == assets["11.02.0202"]
        assert sum(_c(r["saldo_interes"]) for r in cartera.values()) == assets["11.02.0201"]

        # the per-loan statement: its movements add up to the balances; its last line is the balance
        lines = defaultdict(list)
        for row in await _report(stack, "other/estado_de_cuenta_de_prestamo"):
            lines[row["id_linea_credito"]].append(row)
        for fid in (a, b):
            s, ls = bal[fid], lines[fid]
            assert sum(_c(x["capital"]) for x in ls) == s["disbursed_outstanding"]
            assert sum(_c(x["interes"]) for x in ls) == s["interest_outstanding"]
            assert sum(_c(x["comision"]) for x in ls) == s["fee_income"]
            assert (_c(ls[-1]["saldo_capital"]), _c(ls[-1]["saldo_interes"]), _c(ls[-1]["saldo_total"])) == (
                s["disbursed_outstanding"], s["interest_outstanding"], s["total_outstanding"])
            accrued = [x for x in ls if x["tipo"] == "interest_accrued"]
            assert len(accrued) == 31  # one per day, Jan 15 … Feb 14
            assert [x["fecha"] for x in ls] == sorted(x["fecha"] for x in ls)
        assert bal[b]["fee_income"] == 5_000

        # the payment history: what each loan paid, allocation by allocation
        pagos = await _report(stack, "other/historial_de_pagos")
        by_fac = defaultdict(int)
        for row in pagos:
            by_fac[row["id_linea_credito"]] += _c(row["monto_aplicado"])
        assert dict(by_fac) == paid
        assert {(row["id_linea_credito"], _c(row["monto_pago"])) for row in pagos} == {(a, 6_000), (b, 1_000)}
        assert [row["tipo_obligacion"] for row in pagos if row["id_linea_credito"] == a] == ["Interest", "Disbursal"]

        # net risk: per disbursal, the debt and collateral add up to the loan's
        riesgo = await _report(stack, "other/calculo_de_riesgo_neto")
        for fid in (a, b):
            rows = [x for x in riesgo if x["id_linea_credito"] == fid]
            assert sum(_c(x["capital"]) for x in rows) == bal[fid]["disbursed_outstanding"]
            assert sum(_c(x["interes"]) for x in rows) == bal[fid]["interest_outstanding"]
            assert sum(_c(x["deuda_total"]) for x in rows) == bal[fid]["total_outstanding"]
            assert sum(int(x["garantia_sats"]) for x in rows) == bal[fid]["collateral"]
            value = risk.collateral_value(bal[fid]["collateral"], PRICE)
            assert sum(_c(x["riesgo_neto"]) for x in rows) == max(bal[fid]["total_outstanding"] - value, 0) == 0

        activos = await _report(stack, "other/listado_de_prestamos_activos")
        # by activation date: both on the simulated instant of Jan 15, then by id
        assert [(x["fecha_activacion"], x["id_linea_credito"]) for x in activos] == [("2025-01-15", f) for f in sorted((a, b))]
        assert {x["id_linea_credito"]: _c(x["saldo_total"]) for x in activos} == {
            f: bal[f]["total_outstanding"] for f in (a, b)}

        # the chart-of-accounts balance as of a date: every code's value is the trial balance's closing
        for as_of in ("2025-01-31", "2025-02-14"):
            saldo = {x["id_codigo_cuenta"]: _c(x["valor"]) for x in await _report(stack, "nrp_91/01_saldo_cuenta", as_of)}
            tb = await _get(http, "/statements/trial-balance", **{"from": "2025-01-01", "until": as_of,
                                                                  "currency": "USD", "layer": "SETTLED"})
            closing = {ln["code"]: ln["closing_balance"] for ln in tb["lines"] if ln["code"] != "unmapped"}
            assert saldo == closing, as_of
            assert saldo["11.02.0202"] > 0
        jan = {x["id_codigo_cuenta"]: _c(x["valor"]) for x in await _report(stack, "nrp_91/01_saldo_cuenta", "2025-01-31")}
        assert jan["11.02.0202"] == 1_500_000  # both principals, before February's payments
