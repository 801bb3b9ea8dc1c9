"""Financial statements assembled from per-node debit/credit sums (pure; accounting.md §6).

Input: for every chart node, the debit and credit totals of its subtree's accounts (each account
counted once) before the period (``o_dr``, ``o_cr``) and up to its end (``c_dr``, ``c_cr``), for one
currency and layer; plus the same for ledger accounts outside the chart (``UNMAPPED``). Amounts are
integers in minor units; balances are signed by each node's normal balance.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from domain.accounting.codes import Code, fmt
from domain.accounting.config import BaseConfig
from domain.accounting.money import to_major

UNMAPPED = "unmapped"  # key of the sums of accounts that are in no chart node


@dataclass(frozen=True)
class Sums:
    o_dr: int = 0
    o_cr: int = 0
    c_dr: int = 0
    c_cr: int = 0

    def opening(self, side: str) -> int:
        return self.o_dr - self.o_cr if side == "debit" else self.o_cr - self.o_dr

    def closing(self, side: str) -> int:
        return self.c_dr - self.c_cr if side == "debit" else self.c_cr - self.c_dr

    @property
    def debits(self) -> int:
        return self.c_dr - self.o_dr

    @property
    def credits(self) -> int:
        return self.c_cr - self.o_cr

    def period(self, side: str) -> int:
        return self.closing(side) - self.opening(side)


@dataclass(frozen=True)
class NodeInfo:
    code: Code
    name: str
    parent: Code | None
    normal_balance: str


def _line(n: NodeInfo, s: Sums, level: int) -> dict[str, Any]:
    return {"code": fmt(n.code), "name": n.name, "parent_code": fmt(n.parent) if n.parent else None,
            "level": level, "normal_balance": n.normal_balance,
            "opening_balance": s.opening(n.normal_balance), "period_debits": s.debits,
            "period_credits": s.credits, "closing_balance": s.closing(n.normal_balance),
            "closing_debits": s.c_dr, "closing_credits": s.c_cr}


def _walk(nodes: Mapping[Code, NodeInfo], roots: list[Code]) -> list[tuple[NodeInfo, int]]:
    kids: dict[Code | None, list[Code]] = {}
    for n in nodes.values():
        kids.setdefault(n.parent, []).append(n.code)
    out: list[tuple[NodeInfo, int]] = []

    def visit(code: Code, level: int) -> None:
        out.append((nodes[code], level))
        for c in sorted(kids.get(code, [])):
            visit(c, level + 1)

    for r in sorted(roots):
        visit(r, 0)
    return out


def trial_balance(nodes: Mapping[Code, NodeInfo], sums: Mapping[Any, Sums]) -> dict[str, Any]:
    """Every node (tree order) with opening, period debits/credits and closing; grand totals over the
    top-level nodes plus accounts outside the chart, so each entry is counted exactly once."""
    top = [c for c, n in nodes.items() if n.parent is None]
    lines = [_line(n, sums.get(n.code, Sums()), lvl) for n, lvl in _walk(nodes, top)]
    unmapped = sums.get(UNMAPPED, Sums())
    if unmapped != Sums():
        lines.append(_line(NodeInfo(("",), "Accounts outside the chart", None, "debit"), unmapped, 0)
                     | {"code": UNMAPPED})
    tops = [sums.get(c, Sums()) for c in top] + [unmapped]
    totals = {"opening_debits": sum(s.o_dr for s in tops), "opening_credits": sum(s.o_cr for s in tops),
              "period_debits": sum(s.debits for s in tops), "period_credits": sum(s.credits for s in tops),
              "closing_debits": sum(s.c_dr for s in tops), "closing_credits": sum(s.c_cr for s in tops)}
    totals["balanced"] = (totals["period_debits"] == totals["period_credits"]
                          and totals["closing_debits"] == totals["closing_credits"])
    return {"lines": lines, "totals": totals}


_SIDE = {"assets": "debit", "liabilities": "credit", "equity": "credit", "revenue": "credit",
         "cost_of_revenue": "debit", "expenses": "debit"}


def _cat(base: BaseConfig, sums: Mapping[Any, Sums], cat: str) -> Sums:
    return sums.get(base.category_code(cat), Sums())


def _tree(nodes, sums, base: BaseConfig, cat: str, *, period: bool) -> list[dict[str, Any]]:
    root = base.category_code(cat)
    if root not in nodes:
        return []
    out = []
    for n, lvl in _walk(nodes, [root]):
        s = sums.get(n.code, Sums())
        out.append({"code": fmt(n.code), "name": n.name, "level": lvl, "normal_balance": n.normal_balance,
                    "balance": s.period(n.normal_balance) if period else s.closing(n.normal_balance)})
    return out


def balance_sheet(nodes, sums: Mapping[Any, Sums], base: BaseConfig) -> dict[str, Any]:
    """Closing balances; equity includes current earnings (revenue − cost of revenue − expenses not
    yet closed to retained earnings). ``current_year_earnings`` is the same P&L over the fiscal
    year up to the date (equal to current earnings when earlier years are closed)."""
    c = {cat: _cat(base, sums, cat).closing(side) for cat, side in _SIDE.items()}
    p = {cat: _cat(base, sums, cat).period(side) for cat, side in _SIDE.items()}
    current = c["revenue"] - c["cost_of_revenue"] - c["expenses"]
    total_equity = c["equity"] + current
    return {
        "assets": {"total": c["assets"], "lines": _tree(nodes, sums, base, "assets", period=False)},
        "liabilities": {"total": c["liabilities"], "lines": _tree(nodes, sums, base, "liabilities", period=False)},
        "equity": {"total": total_equity, "equity_accounts": c["equity"], "current_earnings": current,
                   "current_year_earnings": p["revenue"] - p["cost_of_revenue"] - p["expenses"],
                   "lines": _tree(nodes, sums, base, "equity", period=False)},
        "total_liabilities_and_equity": c["liabilities"] + total_equity,
        "balanced": c["assets"] == c["liabilities"] + total_equity,
    }


def profit_and_loss(nodes, sums: Mapping[Any, Sums], base: BaseConfig) -> dict[str, Any]:
    p = {cat: _cat(base, sums, cat).period(_SIDE[cat]) for cat in ("revenue", "cost_of_revenue", "expenses")}
    return {
        **{cat: {"total": p[cat], "lines": _tree(nodes, sums, base, cat, period=True)} for cat in p},
        "gross_profit": p["revenue"] - p["cost_of_revenue"],
        "net_income": p["revenue"] - p["cost_of_revenue"] - p["expenses"],
    }


# --- CSV (amounts in major units, exact) ------------------------------------------------------

def _writer() -> tuple[io.StringIO, Any]:
    out = io.StringIO()
    return out, csv.writer(out, lineterminator="\n")


def trial_balance_csv(tb: dict[str, Any], currency: str) -> str:
    out, w = _writer()
    money = ("opening_balance", "period_debits", "period_credits", "closing_balance")
    w.writerow(["Code", "Name", "Level", "Normal Balance", "Currency", "Opening Balance", "Period Debits",
                "Period Credits", "Closing Balance"])
    for ln in tb["lines"]:
        w.writerow([ln["code"], ln["name"], ln["level"], ln["normal_balance"], currency,
                    *[to_major(ln[k], currency) for k in money]])
    t = tb["totals"]
    w.writerow(["TOTAL", "", "", "", currency, "", to_major(t["period_debits"], currency),
                to_major(t["period_credits"], currency), ""])
    return out.getvalue()


def _section_rows(w, section: str, lines: list[dict[str, Any]], currency: str) -> None:
    for ln in lines:
        w.writerow([section, ln["code"], ln["name"], ln["level"], to_major(ln["balance"], currency)])


def balance_sheet_csv(bs: dict[str, Any], currency: str) -> str:
    out, w = _writer()
    w.writerow(["Section", "Code", "Name", "Level", f"Balance ({currency})"])
    for section in ("assets", "liabilities", "equity"):
        _section_rows(w, section, bs[section]["lines"], currency)
    w.writerow(["equity", "", "Current Earnings", "", to_major(bs["equity"]["current_earnings"], currency)])
    for label, v in (("Total Assets", bs["assets"]["total"]), ("Total Liabilities", bs["liabilities"]["total"]),
                     ("Total Equity", bs["equity"]["total"]),
                     ("Total Liabilities and Equity", bs["total_liabilities_and_equity"])):
        w.writerow(["total", "", label, "", to_major(v, currency)])
    return out.getvalue()


def profit_and_loss_csv(pl: dict[str, Any], currency: str) -> str:
    out, w = _writer()
    w.writerow(["Section", "Code", "Name", "Level", f"Amount ({currency})"])
    for section in ("revenue", "cost_of_revenue", "expenses"):
        _section_rows(w, section, pl[section]["lines"], currency)
    w.writerow(["total", "", "Gross Profit", "", to_major(pl["gross_profit"], currency)])
    w.writerow(["total", "", "Net Income", "", to_major(pl["net_income"], currency)])
    return out.getvalue()


def history_csv(rows: list[dict[str, Any]]) -> str:
    """Ledger account history: one row per entry, newest first (accounting.md §9 columns + context)."""
    out, w = _writer()
    w.writerow(["Recorded At", "Effective", "Currency", "Debit Amount", "Credit Amount", "Description",
                "Entry Type", "Layer", "Transaction Id"])
    for r in rows:
        amount = to_major(r["units"], r["currency"])
        w.writerow([r["recorded_at"].isoformat(), r["effective"].isoformat(), r["currency"],
                    amount if r["direction"] == "debit" else "", amount if r["direction"] == "credit" else "",
                    r.get("description") or "", r["entry_type"], r["layer"], str(r["transaction_id"])])
    return out.getvalue()
