"""Chart-of-accounts CSV: parsing (accounting.md §2.2, with whole-file validation) and export.

Parsing follows lana's algorithm: per row, digit fields are code sections, a blank leading field
inherits the section at the same column of the previous row's code, the first field that is a name
(non-empty, not starting with a digit) is the name, ``Debit``/``Credit`` ends the row. Unlike lana,
nothing is silently skipped, and (as in lana) a single-section code of any length with no ancestor
is a top-level node (real charts use several digits at the top: ``10``, ``100``): a malformed row, a duplicate code or a node without a parent rejects
the whole file with ``{row, reason}`` for every problem found (1-based row numbers).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass

from domain.accounting.codes import Code, fmt, is_parent_of, valid_name
from domain.accounting.errors import InvalidChartCsv

BALANCES = {"Debit": "debit", "Credit": "credit"}


@dataclass(frozen=True)
class NodeSpec:
    code: Code
    name: str
    parent: Code | None
    normal_balance: str  # "debit" | "credit"
    row: int = 0

    @property
    def code_str(self) -> str:
        return fmt(self.code)


@dataclass(frozen=True)
class RowError:
    row: int
    reason: str


def _parse_row(fields: list[str], prev: Code | None) -> tuple[Code, str, str | None] | str:
    """``(code, name, balance)`` or the reason the row is malformed."""
    sections: list[str] = []
    leading, name, balance = True, None, None
    for idx, raw in enumerate(fields):
        f = raw.strip()
        if f in BALANCES:
            balance = BALANCES[f]
            break
        if name is not None:
            continue
        if valid_name(f):
            name = f
        elif f and f.isascii() and f.isdigit():
            sections.append(f)
            leading = False
        elif not f and leading:
            if prev is None:
                return f"column {idx + 1} is blank but no previous row's code can be inherited"
            if idx >= len(prev):
                return f"column {idx + 1} is blank but the previous code {fmt(prev)} has no section there"
            sections.append(prev[idx])
        elif f:
            return f"field {f!r} (column {idx + 1}) is neither a code section nor an account name"
    if name is None:
        return "no account name"
    if not sections:
        return "no account code"
    return tuple(sections), name, balance


def _nearest(code: Code, candidates: Mapping[Code, object]) -> Code | None:
    ancestors = [c for c in candidates if is_parent_of(c, code)]
    return max(ancestors, key=lambda c: (len(c), len(c[-1]))) if ancestors else None


def parse_chart_csv(text: str, existing: Mapping[Code, str] | None = None) -> list[NodeSpec]:
    """Parse and validate the whole file; ``existing`` maps codes already in the chart to their
    normal balance (they may be parents; re-listing them is allowed and skipped by the importer)."""
    existing = dict(existing or {})
    errors: list[RowError] = []
    specs: list[NodeSpec] = []
    seen: dict[Code, int] = {}
    side: dict[Code, str] = dict(existing)
    prev: Code | None = None
    for row_no, fields in enumerate(csv.reader(io.StringIO(text)), start=1):
        if all(not f.strip() for f in fields):
            continue
        parsed = _parse_row(fields, prev)
        if isinstance(parsed, str):
            errors.append(RowError(row_no, parsed))
            continue
        code, name, balance = parsed
        prev = code
        if code in seen:
            errors.append(RowError(row_no, f"duplicate code {fmt(code)} (first on row {seen[code]})"))
            continue
        seen[code] = row_no
        parent = _nearest(code, side)
        if parent is None and len(code) > 1:
            errors.append(RowError(row_no, f"code {fmt(code)} has no parent node (orphan); only single-section "
                                           "codes may be top-level"))
            continue
        normal = side[parent] if parent is not None else (balance or "credit")
        side[code] = existing.get(code, normal)
        specs.append(NodeSpec(code, name, parent, side[code], row_no))
    if errors:
        raise InvalidChartCsv(
            f"{len(errors)} row(s) rejected; nothing was imported: "
            + "; ".join(f"row {e.row}: {e.reason}" for e in errors[:20]),
            errors=[{"row": e.row, "reason": e.reason} for e in errors])
    return specs


def export_chart_csv(nodes: list[NodeSpec]) -> str:
    """Parents before children (depth-first by code); every section written out, so importing the
    output reproduces the same codes, names, parents and normal balances."""
    children: dict[Code | None, list[NodeSpec]] = {}
    for n in nodes:
        children.setdefault(n.parent, []).append(n)
    width = max((len(n.code) for n in nodes), default=1)
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")

    def walk(parent: Code | None) -> None:
        for n in sorted(children.get(parent, []), key=lambda n: n.code):
            row = [*n.code, *[""] * (width - len(n.code)), n.name]
            if n.parent is None:
                row.append("Debit" if n.normal_balance == "debit" else "Credit")
            w.writerow(row)
            walk(n.code)

    walk(None)
    return out.getvalue()
