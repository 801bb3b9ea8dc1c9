"""The report domain: the catalogue as data, trigger rules, the run's states, exact money
formatting and the three file formats, the risk figures."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.reports import risk
from domain.reports.catalogue import BY_ID, CATALOGUE, Format, Kind
from domain.reports.errors import IdentityFieldsMissing, InvalidReportRunRequest, ReportDefinitionNotFound
from domain.reports.formats import RowWriter, cents, render, sats
from domain.reports.run import ReportRun, RunState, RunType, definition_for_trigger, scheduled_definitions


def test_catalogue_has_the_39_definitions_of_the_spec():
    assert len(CATALOGUE) == len(BY_ID) == 39
    assert Counter(d.kind for d in CATALOGUE) == {Kind.OWN_DATA: 13, Kind.CONSTANT: 1, Kind.EMPTY: 22,
                                                  Kind.IDENTITY_FIELDS: 3}
    assert [d.definition_id for d in CATALOGUE if d.supports_as_of] == ["nrp_91/01_saldo_cuenta"]
    saldo = BY_ID["nrp_91/01_saldo_cuenta"]
    assert saldo.outputs == (Format.XML, Format.CSV)
    assert saldo.path("r1", Format.CSV) == "reports/r1/nrp_91/saldo_cuenta.csv"
    assert saldo.external_id("r1") == "r1_nrp_91_saldo_cuenta"
    assert BY_ID["nrsf_03/02_depositos"].outputs == (Format.CSV, Format.TXT)
    assert BY_ID["other/historial_de_pagos"].friendly_name == "historial_de_pagos"
    assert all(len(set(d.columns)) == len(d.columns) > 0 for d in CATALOGUE)
    assert len(scheduled_definitions()) == 36


def test_trigger_rules():
    assert definition_for_trigger("nrp_91/01_saldo_cuenta", date(2025, 1, 31)).id == "01_saldo_cuenta"
    with pytest.raises(ReportDefinitionNotFound):
        definition_for_trigger("x/y", None)
    with pytest.raises(IdentityFieldsMissing) as e:
        definition_for_trigger("nrsf_03/01_cliente", None)
    assert e.value.code == "report.identity_fields_missing" and e.value.status == 422
    with pytest.raises(InvalidReportRunRequest):
        definition_for_trigger("nrp_91/01_saldo_cuenta", None)
    with pytest.raises(InvalidReportRunRequest):
        definition_for_trigger("other/historial_de_pagos", date(2025, 1, 31))


def test_run_states_and_replays():
    now = datetime(2025, 2, 1, tzinfo=UTC)
    run = ReportRun.queue("r", "manual:r", RunType.MANUAL, "other/historial_de_pagos", None, "u")
    assert run.state == RunState.QUEUED
    assert run.start(now) and not run.start(now)  # a replayed start records nothing
    assert run.state == RunState.RUNNING and run.start_time == now
    assert run.finish(now, {"a/b": "boom"}) and not run.finish(now, {})
    assert (run.state, run.error, run.failures) == (RunState.FAILED, "a/b: boom", {"a/b": "boom"})
    rebuilt = ReportRun.rebuild("r", [])
    for event_type, payload in run.pending:
        rebuilt.apply(event_type, payload)
    assert (rebuilt.state, rebuilt.error, rebuilt.run_key) == (RunState.FAILED, "a/b: boom", "manual:r")
    ok = ReportRun.queue("s", "scheduled:2025-01-31", RunType.SCHEDULED, None, date(2025, 1, 31), "system")
    ok.start(now)
    ok.finish(now, {})
    assert (ok.state, ok.error) == (RunState.SUCCESS, None)


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_money_is_exact_decimal_text(units):
    assert Decimal(cents(units)) * 100 == units and cents(units).count(".") == 1 and len(cents(units).split(".")[1]) == 2
    assert Decimal(sats(units)) * 100_000_000 == units


def test_money_examples():
    assert (cents(0), cents(5), cents(-5), cents(123456), cents(None)) == ("0.00", "0.05", "-0.05", "1234.56", "")
    assert sats(150_000_000) == "1.50000000"


def test_formats():
    rows = [[1, "a,b", None], [2, 'x|y<"z">&', Decimal("1.50")]]
    assert render(Format.CSV, ["n", "t", "v"], rows) == 'n,t,v\n1,"a,b",\n2,"x|y<""z"">&",1.50\n'
    assert render(Format.TXT, ["n", "t", "v"], rows) == 'n|t|v\n1|a,b|\n2|x y<"z">&|1.50\n'
    assert render(Format.XML, ["n", "t"], [[1, "<&>"]], root="saldo_cuenta") == (
        '<?xml version="1.0" encoding="UTF-8"?>\n<saldo_cuenta>\n  <row><n>1</n><t>&lt;&amp;&gt;</t></row>\n'
        "</saldo_cuenta>\n")
    assert render(Format.CSV, ["a"], []) == "a\n"  # a header-only file
    with pytest.raises(ValueError):
        RowWriter(Format.CSV, ["a", "b"]).row([1])


def test_risk_figures():
    assert risk.rating(0) == ("A1", Decimal("1")) and risk.rating(15) == ("A2", Decimal("2"))
    assert risk.rating(181) == ("E", Decimal("100"))
    assert risk.reserve(12_345, Decimal("2")) == 247 and risk.reserve(-1, Decimal("5")) == 0
    assert risk.collateral_value(50_000_000, 6_000_000) == 3_000_000
    assert risk.split(10, [1, 1, 1]) == [4, 3, 3] and risk.split(7, [0, 0]) == [4, 3] and risk.split(5, []) == []


@given(st.integers(min_value=0, max_value=10**12), st.lists(st.integers(min_value=0, max_value=10**9), min_size=1,
                                                            max_size=8))
def test_split_adds_up_and_is_proportional(total, weights):
    parts = risk.split(total, weights)
    assert sum(parts) == total and all(p >= 0 for p in parts)
    if any(weights):
        s = sum(weights)
        assert all(abs(p - total * w / s) < 1 for p, w in zip(parts, weights, strict=True))
