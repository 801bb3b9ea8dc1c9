"""Inline SVG bar charts, rendered in Python for the server-rendered pages (no JavaScript, no
library to fetch). Every bar carries ``data-testid`` and ``data-value`` (the exact figure, not the
label's rounding), so a browser test can compare what is drawn with the API's numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

MIN_BAR_PX = 3


@dataclass(frozen=True)
class Bar:
    key: str  # stable, used in data-testid
    label: str
    value: int
    color: str
    caption: str = ""  # a second line under the value (e.g. the amount behind a count)


@dataclass(frozen=True)
class Marker:
    """A vertical line drawn just before bar ``before`` (a threshold between two bands)."""

    key: str
    label: str
    before: int
    color: str = "#222"


def usd(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}${abs(cents) // 100:,}.{abs(cents) % 100:02d}"


def btc(sats: int) -> str:
    return f"{sats / 100_000_000:,.8f} BTC"


def bar_chart(testid: str, title: str, bars: Sequence[Bar], *, fmt: Callable[[int], str] = str,
              markers: Sequence[Marker] = (), width: int = 620, height: int = 260) -> Markup:
    """Vertical bars on a common scale from 0 to the largest value; a zero bar has no height but
    keeps its label, a non-zero one is at least ``MIN_BAR_PX`` high (a $1 bar next to a $1M one
    stays visible; its label says the figure). Returns markup safe to put in a template (every text
    is escaped)."""
    top, bottom, side = 44, 52, 16
    plot_h = height - top - bottom
    slot = (width - 2 * side) / max(len(bars), 1)
    bar_w = slot * 0.62
    peak = max((b.value for b in bars), default=0) or 1
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-testid="{escape(testid)}" '
             f'role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
             f"<title>{escape(title)}</title>",
             f'<line x1="{side}" y1="{top + plot_h}" x2="{width - side}" y2="{top + plot_h}" stroke="#999"/>']
    for i, b in enumerate(bars):
        h = round(max(plot_h * b.value / peak, MIN_BAR_PX), 2) if b.value > 0 else 0
        x = round(side + i * slot + (slot - bar_w) / 2, 2)
        y = round(top + plot_h - h, 2)
        cx = round(side + i * slot + slot / 2, 2)
        parts.append(f'<rect data-testid="{escape(testid)}-bar-{escape(b.key)}" data-value="{b.value}" '
                     f'x="{x}" y="{y}" width="{round(bar_w, 2)}" height="{h}" fill="{escape(b.color)}">'
                     f"<title>{escape(b.label)}: {escape(fmt(b.value))}</title></rect>")
        parts.append(f'<text x="{cx}" y="{y - 6}" text-anchor="middle" class="value">{escape(fmt(b.value))}</text>')
        parts.append(f'<text x="{cx}" y="{top + plot_h + 18}" text-anchor="middle" class="label">'
                     f"{escape(b.label)}</text>")
        if b.caption:
            parts.append(f'<text x="{cx}" y="{top + plot_h + 34}" text-anchor="middle" class="caption">'
                         f"{escape(b.caption)}</text>")
    for m in markers:
        x = round(side + m.before * slot, 2)
        parts.append(f'<line data-testid="{escape(testid)}-line-{escape(m.key)}" x1="{x}" y1="{top - 18}" '
                     f'x2="{x}" y2="{top + plot_h}" stroke="{escape(m.color)}" stroke-width="2" '
                     f'stroke-dasharray="6 4"/>')
        parts.append(f'<text x="{x}" y="{top - 24}" text-anchor="middle" class="marker">{escape(m.label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
