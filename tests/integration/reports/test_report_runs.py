"""Report runs through the API with the worker running (time-skipping server): the catalogue,
the trigger's refusals, a run to SUCCESS with its files downloaded through signed links, a
scheduled run of the whole catalogue where one definition fails (the run ends FAILED with that
error, every other file stays), and a repeated tick of the same date making no second run."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date
from urllib.parse import urlsplit

import pytest

from activities.reports import generators
from domain.reports.catalogue import CATALOGUE, Kind
from domain.reports.run import ScheduledRunInput
from tests.harness import Stack
from tests.integration.credit.facility_helpers import wait_for
from workflows.report_run import ScheduledReportsWorkflow

API = "/api/v1"


@pytest.fixture
async def rstack(db_url, engine, ts_env, tmp_path):
    async with Stack.start(db_url, engine, ts_env.client, kyc_required=False, documents_dir=tmp_path) as s:
        yield s


async def _download(stack, report_id: str, extension: str) -> str:
    r = await stack.http.post(f"{API}/reports/{report_id}/download-link", json={"extension": extension})
    assert r.status_code == 200, r.text
    url = urlsplit(r.json()["url"])
    got = await stack.anonymous().get(f"{url.path}?{url.query}")
    assert got.status_code == 200, got.text
    return got.text


async def test_catalogue_lists_every_definition_with_formats_and_as_of(rstack):
    r = await rstack.http.get(f"{API}/report-definitions")
    assert r.status_code == 200, r.text
    body = {d["report_definition_id"]: d for d in r.json()}
    assert len(body) == 39
    saldo = body["nrp_91/01_saldo_cuenta"]
    assert saldo["supports_as_of"] is True and saldo["outputs"] == ["XML", "CSV"] and saldo["kind"] == "Y"
    assert [k for k, d in body.items() if d["supports_as_of"]] == ["nrp_91/01_saldo_cuenta"]
    assert body["nrsf_03/02_depositos"]["outputs"] == ["CSV", "TXT"]
    assert sorted(k for k, d in body.items() if not d["runnable"]) == [
        "nrp_92/01_persona", "nrsf_03/01_cliente", "nrsf_03/03_documentos_clientes"]


async def test_trigger_refusals(rstack):
    http = rstack.http
    cases = [({"report_definition_id": "nrp_92/01_persona"}, 422, "report.identity_fields_missing"),
             ({"report_definition_id": "nope/none"}, 404, "report.definition_not_found"),
             ({"report_definition_id": "nrp_91/01_saldo_cuenta"}, 422, "report.invalid_run_request"),
             ({"report_definition_id": "other/historial_de_pagos", "as_of_date": "2025-01-31"}, 422,
              "report.invalid_run_request"),
             ({"report_definition_id": "other/historial_de_pagos", "as_of_date": "yesterday"}, 422,
              "common.validation_failed")]
    for body, status, code in cases:
        r = await http.post(f"{API}/report-runs", json=body)
        assert (r.status_code, r.json()["code"]) == (status, code), (body, r.text)
    assert (await http.get(f"{API}/report-runs")).json()["items"] == []  # nothing queued by a refusal
    viewer = await rstack.client_for("viewer@bank.test", "bank-manager")
    r = await viewer.post(f"{API}/reports/{uuid.uuid4()}/download-link", json={"extension": "csv"})
    assert r.status_code in (403, 404)


async def test_manual_run_succeeds_and_its_files_download(rstack):
    http = rstack.http
    key = {"Idempotency-Key": "saldo-2025-01-31"}
    body = {"report_definition_id": "nrp_91/01_saldo_cuenta", "as_of_date": "2025-01-31"}
    r = await http.post(f"{API}/report-runs", json=body, headers=key)
    assert r.status_code == 202, r.text
    run = r.json()
    assert run["run_type"] == "MANUAL" and run["requested_as_of_date"] == "2025-01-31"
    assert run["requested_report"] == {"report_definition_id": "nrp_91/01_saldo_cuenta", "norm": "nrp_91",
                                       "name": "saldo_cuenta"}
    again = await http.post(f"{API}/report-runs", json=body, headers=key)
    assert again.json()["id"] == run["id"]

    done = await wait_for(lambda: http.get(f"{API}/report-runs/{run['id']}"), lambda b: b["state"] == "SUCCESS")
    assert done["start_time"] and done["finished_at"] and done["error"] is None
    [report] = done["reports"]
    assert report["external_id"] == f"{run['id']}_nrp_91_saldo_cuenta"
    assert [(f["extension"], f["path_in_bucket"]) for f in report["files"]] == [
        ("csv", f"reports/{run['id']}/nrp_91/saldo_cuenta.csv"), ("xml", f"reports/{run['id']}/nrp_91/saldo_cuenta.xml")]
    text = await _download(rstack, report["id"], "csv")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["id_codigo_cuenta", "nom_cuenta", "valor"]
    assert len(rows) - 1 == report["row_count"]
    assert all(row[2] == "0.00" for row in rows[1:])  # nothing posted yet
    xml = await _download(rstack, report["id"], "xml")
    assert xml.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<saldo_cuenta>') and xml.count("<row>") == len(rows) - 1

    r = await http.post(f"{API}/reports/{report['id']}/download-link", json={"extension": "txt"})
    assert (r.status_code, r.json()["code"]) == (404, "report.not_found")
    listed = (await http.get(f"{API}/report-runs")).json()["items"]
    assert [x["id"] for x in listed] == [run["id"]]

    # a rerun of the same definition and date is a new run with files of its own: nothing published moves
    r = await http.post(f"{API}/report-runs", json=body)
    assert r.status_code == 202 and r.json()["id"] != run["id"], r.text
    rerun = await wait_for(lambda: http.get(f"{API}/report-runs/{r.json()['id']}"), lambda b: b["state"] == "SUCCESS")
    assert {f["path_in_bucket"] for f in rerun["reports"][0]["files"]}.isdisjoint(
        f["path_in_bucket"] for f in report["files"])
    assert await _download(rstack, report["id"], "csv") == text
    listed = (await http.get(f"{API}/report-runs")).json()["items"]
    assert [x["id"] for x in listed] == [rerun["id"], run["id"]]  # newest first


async def test_scheduled_run_keeps_a_failure_and_a_repeated_tick_makes_no_second_run(rstack, monkeypatch):
    async def broken(ctx):
        raise RuntimeError("the portfolio query broke")
        yield  # pragma: no cover

    monkeypatch.setitem(generators.GENERATORS, "other/reporte_de_cartera_de_prestamos", broken)
    day = date(2025, 1, 31)
    summary = await rstack.client.execute_workflow(
        ScheduledReportsWorkflow.run, ScheduledRunInput(day=day), id=f"sched-{uuid.uuid4()}",
        task_queue=rstack.settings.temporal_task_queue)
    assert summary.state == "FAILED"
    assert list(summary.failures) == ["other/reporte_de_cartera_de_prestamos"]
    assert "the portfolio query broke" in summary.failures["other/reporte_de_cartera_de_prestamos"]

    run = (await rstack.http.get(f"{API}/report-runs/{summary.run_id}")).json()
    assert run["state"] == "FAILED" and run["run_type"] == "SCHEDULED" and run["requested_as_of_date"] == "2025-01-31"
    assert "other/reporte_de_cartera_de_prestamos" in run["error"] and "portfolio query broke" in run["error"]
    runnable = [d for d in CATALOGUE if d.kind != Kind.IDENTITY_FIELDS]
    assert len(run["reports"]) == len(runnable) - 1  # every other definition's files stay
    empty = next(x for x in run["reports"] if x["report_definition_id"] == "nrp_91/02_deposito_extranjero")
    assert empty["row_count"] == 0
    assert (await _download(rstack, empty["id"], "csv")).strip() == "id_codigo_banco,nom_banco,pais,categoria,valor"
    products = next(x for x in run["reports"] if x["report_definition_id"] == "nrsf_03/06_productos")
    assert (await _download(rstack, products["id"], "txt")) == "codigo_producto|nombre_producto\nBTCL|Bitcoin Loan Collateral\n"
    sizes = {f["path_in_bucket"]: f["size_bytes"] for x in run["reports"] for f in x["files"]}

    monkeypatch.undo()
    second = await rstack.client.execute_workflow(
        ScheduledReportsWorkflow.run, ScheduledRunInput(day=day), id=f"sched-{uuid.uuid4()}",
        task_queue=rstack.settings.temporal_task_queue)
    assert second is None  # the date's run is finished: nothing runs again, nothing is replaced
    listed = (await rstack.http.get(f"{API}/report-runs")).json()["items"]
    assert [x["id"] for x in listed] == [summary.run_id]
    again = (await rstack.http.get(f"{API}/report-runs/{summary.run_id}")).json()
    assert {f["path_in_bucket"]: f["size_bytes"] for x in again["reports"] for f in x["files"]} == sizes


async def test_a_report_runs_stream_replays_its_states_and_refuses_before_opening(rstack):
    """`GET /report-runs/{id}/stream` (docs/streams.md): a client opening after the run finished gets
    its history replayed from `Last-Event-ID: 0`, queued → running → success, in order."""
    import httpx

    from tests.fakes.serve import serving
    from tests.integration.credit.test_facility_stream import _open

    http = rstack.http
    r = await http.post(f"{API}/report-runs", json={"report_definition_id": "nrsf_03/06_productos"})
    assert r.status_code == 202, r.text
    run_id = r.json()["id"]
    await wait_for(lambda: http.get(f"{API}/report-runs/{run_id}"), lambda b: b["state"] == "SUCCESS")
    async with serving(rstack.app) as base, httpx.AsyncClient(
            base_url=base, headers={"Authorization": http.headers["Authorization"]},
            timeout=httpx.Timeout(10, read=30)) as sse:
        missing = await sse.get(f"{API}/report-runs/{uuid.uuid4()}/stream")
        assert (missing.status_code, missing.json()["code"]) == (404, "common.not_found")
        async with _open(sse, f"{API}/report-runs/{run_id}/stream", rstack, last_event_id=0) as reader:
            await reader.wait_for(lambda e: e["payload"].get("state") == "SUCCESS")
    seen = [(e["event_type"], e["payload"].get("state")) for e in reader.events]
    assert seen == [("initialized", None), ("state_updated", "RUNNING"), ("state_updated", "SUCCESS")], seen
    assert [e["sse_id"] for e in reader.events] == sorted(e["sse_id"] for e in reader.events)
