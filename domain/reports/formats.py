"""Pure row formatting of report files (custody-price-reports.md §4.3).

CSV: comma, header row (RFC 4180 quoting). TXT: pipe-separated, header row (a pipe or a line
break inside a value is replaced by a space: the format has no quoting). XML: one root element,
one ``<row>`` element per row with one child per column. Values are already text: money goes
through :func:`cents` / :func:`sats` (exact decimal strings, never floats).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from xml.sax.saxutils import escape

from domain.reports.catalogue import Format

Value = str | int | Decimal | date | datetime | None


def cents(units: int | None) -> str:
    """1230 → ``"12.30"``; -5 → ``"-0.05"`` (exact: integer arithmetic)."""
    if units is None:
        return ""
    sign = "-" if units < 0 else ""
    q, r = divmod(abs(int(units)), 100)
    return f"{sign}{q}.{r:02d}"


def sats(units: int | None) -> str:
    """150_000_000 → ``"1.50000000"`` BTC."""
    if units is None:
        return ""
    sign = "-" if units < 0 else ""
    q, r = divmod(abs(int(units)), 100_000_000)
    return f"{sign}{q}.{r:08d}"


def text(value: Value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


class RowWriter:
    """Turns rows into the bytes of one format: ``header()``, ``row(values)`` per row, ``footer()``."""

    def __init__(self, fmt: Format, columns: Sequence[str], *, root: str = "reporte") -> None:
        self.fmt = fmt
        self.columns = tuple(columns)
        self.root = root
        self._buf = io.StringIO()
        self._csv = csv.writer(self._buf, lineterminator="\n")  # one writer for every row

    def header(self) -> str:
        if self.fmt == Format.XML:
            return f'<?xml version="1.0" encoding="UTF-8"?>\n<{self.root}>\n'
        return self._line(self.columns)

    def row(self, values: Sequence[Value]) -> str:
        if len(values) != len(self.columns):
            raise ValueError(f"{len(values)} values for {len(self.columns)} columns")
        cells = [text(v) for v in values]
        if self.fmt == Format.XML:
            inner = "".join(f"<{c}>{escape(v)}</{c}>" for c, v in zip(self.columns, cells, strict=True))
            return f"  <row>{inner}</row>\n"
        return self._line(cells)

    def footer(self) -> str:
        return f"</{self.root}>\n" if self.fmt == Format.XML else ""

    def _line(self, cells: Iterable[str]) -> str:
        if self.fmt == Format.TXT:
            return "|".join(c.replace("|", " ").replace("\r", " ").replace("\n", " ") for c in cells) + "\n"
        self._buf.seek(0)
        self._buf.truncate()
        self._csv.writerow(cells)
        return self._buf.getvalue()


def render(fmt: Format, columns: Sequence[str], rows: Iterable[Sequence[Value]], root: str = "reporte") -> str:
    """A whole file in memory (tests, small constant files)."""
    w = RowWriter(fmt, columns, root=root)
    return w.header() + "".join(w.row(r) for r in rows) + w.footer()
