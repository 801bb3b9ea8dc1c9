from importlib import resources

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.accounting.chart_csv import NodeSpec, export_chart_csv, parse_chart_csv
from domain.accounting.codes import is_parent_of, parse_code
from domain.accounting.errors import InvalidAccountCode, InvalidChartCsv

DEFAULT = resources.files("domain.accounting").joinpath("default_chart.csv").read_text()


def _by_code(specs):
    return {s.code_str: s for s in specs}


def test_default_chart_matches_the_spec_oracle():
    nodes = _by_code(parse_chart_csv(DEFAULT))
    assert len(nodes) == 81
    assert [c for c, n in nodes.items() if n.parent is None] == ["1", "2", "3", "4", "5", "6", "7", "8"]
    assert nodes["11.99"].parent == ("11",) and nodes["11.99.0201"].parent == ("11", "99")
    assert nodes["12"].parent == ("1",) and nodes["21.03"].parent == ("21",)
    assert nodes["7"].normal_balance == "credit" and nodes["72.02"].normal_balance == "credit"
    assert nodes["5"].normal_balance == "debit" and nodes["51.02"].normal_balance == "debit"
    assert nodes["11.01.0101"].name == "Operating Cash"


def test_ancestor_rule():
    p = parse_code
    assert is_parent_of(p("1"), p("11")) and is_parent_of(p("1"), p("11.01.0101"))
    assert is_parent_of(p("11"), p("11.02")) and is_parent_of(p("11.02"), p("11.02.0201"))
    assert not is_parent_of(p("2"), p("11")) and not is_parent_of(p("11"), p("11"))
    assert not is_parent_of(p("11.02"), p("11.03.0201"))
    with pytest.raises(InvalidAccountCode):
        parse_code("11..01")
    with pytest.raises(InvalidAccountCode):
        parse_code("11.a")


def test_whole_file_rejected_with_row_numbers():
    bad = "1,,,Assets,Debit\n11,,,Current Assets\n,01,,Cash\n,01,,Cash again\n,,9x,Weird\n\n3x,,,Bad\n22,01,,Orphan\n"
    with pytest.raises(InvalidChartCsv) as exc:
        parse_chart_csv(bad)
    errors = exc.value.extra["errors"]
    assert [e["row"] for e in errors] == [4, 5, 7, 8]
    assert "duplicate code 11.01 (first on row 3)" in errors[0]["reason"]
    assert "'9x'" in errors[1]["reason"]
    assert "orphan" in errors[3]["reason"]


def test_multi_digit_top_level_codes_are_accepted():
    """Regression (new-user #6): real charts use codes of several digits at the top (lana accepts them)."""
    specs = parse_chart_csv("10,,,Assets,Debit\n,01,,Cash\n200,,,Liabilities,Credit\n200,1,,Deposits\n")
    assert [(s.code_str, s.parent, s.normal_balance) for s in specs] == [
        ("10", None, "debit"), ("10.01", ("10",), "debit"), ("200", None, "credit"), ("200.1", ("200",), "credit")]


def test_rows_without_name_or_inheritable_prefix_are_malformed():
    with pytest.raises(InvalidChartCsv) as exc:
        parse_chart_csv(",01,,No previous row\n1,,,\n")
    assert [e["row"] for e in exc.value.extra["errors"]] == [1, 2]


def test_parent_may_be_an_existing_node():
    specs = parse_chart_csv("11,05,,Crypto\n", existing={("1",): "debit", ("11",): "debit"})
    assert specs == [NodeSpec(("11", "05"), "Crypto", ("11",), "debit", 1)]


names = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x2FF, blacklist_characters="\x7f"),
                min_size=1, max_size=12).map(str.strip).filter(lambda s: s and not s[0].isdigit()
                                                                  and s not in ("Debit", "Credit"))


@given(st.lists(st.tuples(st.integers(1, 9), st.integers(1, 3), st.integers(1, 3), names,
                          st.sampled_from(["debit", "credit"])), min_size=1, max_size=15))
def test_export_then_parse_is_lossless(rows):
    specs: dict = {}
    for top, mid, leaf, name, side in rows:
        t = (str(top),)
        specs.setdefault(t, NodeSpec(t, name, None, side))
        m = (f"{top}{mid}",)
        specs.setdefault(m, NodeSpec(m, name + " m", t, specs[t].normal_balance))
        leaf_code = (*m, f"0{leaf}")
        specs.setdefault(leaf_code, NodeSpec(leaf_code, name + " l", m, specs[t].normal_balance))
    again = parse_chart_csv(export_chart_csv(list(specs.values())))
    assert {s.code: (s.name, s.parent, s.normal_balance) for s in again} == \
        {s.code: (s.name, s.parent, s.normal_balance) for s in specs.values()}
