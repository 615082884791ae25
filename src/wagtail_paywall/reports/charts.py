"""Server-rendered SVG charts of the membership reports: no JavaScript, no CDN.

Each chart is a :class:`Chart`: its SVG (``role="img"`` with a title naming what it
shows), and the table of the very numbers it draws, which the admin template shows in a
``<details>`` element (readable without JavaScript and by screen readers) and which the
CSV export serves. See ``docs/metrics.md`` (Charts).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from html import escape

from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from membership_sdk.currency import format_amount

from ..models import CancellationFeedback, LedgerEntry
from . import membership as reports

WIDTH, HEIGHT, PAD = 640, 240, 40
#: Movement colours (Wagtail admin palette, distinguishable in grey scale too).
COLOURS = {
    "new": "#007d7e",
    "reactivated": "#2e1f5e",
    "expansion": "#58a9b6",
    "contraction": "#f0ab70",
    "churned": "#cd4444",
    "paid": "#007d7e",
    "trialing": "#f0ab70",
}


@dataclass(frozen=True, slots=True)
class Chart:
    """One chart: its slug (for the CSV export), title, SVG and data table."""

    slug: str
    title: str
    svg: SafeString
    headers: list[str]
    rows: list[list[str]]

    def csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(self.headers)
        writer.writerows(self.rows)
        return out.getvalue()


def _svg(title: str, body: str, width: int = WIDTH, height: int = HEIGHT) -> SafeString:
    return mark_safe(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="{escape(title)}" class="paywall-chart">'
        f"<title>{escape(title)}</title>{body}</svg>"
    )


def _label(x: float, y: float, text: str, anchor: str = "middle") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="10" text-anchor="{anchor}" '
        f'fill="currentColor">{escape(text)}</text>'
    )


def stacked_bars(
    title: str, labels: Sequence[str], series: dict[str, list[int]], *, signed: Sequence[str] = ()
) -> SafeString:
    """Bars per label, each stacked from ``series`` (name -> one value per label); the
    ``signed`` series are drawn below the axis (losses)."""
    up = [sum(v[i] for k, v in series.items() if k not in signed) for i in range(len(labels))]
    down = [sum(v[i] for k, v in series.items() if k in signed) for i in range(len(labels))]
    top, bottom = max(up, default=0) or 1, max(down, default=0)
    scale = (HEIGHT - 2 * PAD) / (top + bottom)
    axis = PAD + top * scale
    step = (WIDTH - 2 * PAD) / max(len(labels), 1)
    parts = [f'<line x1="{PAD}" x2="{WIDTH - PAD}" y1="{axis:.1f}" y2="{axis:.1f}" stroke="#999"/>']
    for i, label in enumerate(labels):
        x = PAD + i * step + step * 0.15
        above, below = axis, axis
        for name, values in series.items():
            h = values[i] * scale
            if h <= 0:
                continue
            if name in signed:
                y, below = below, below + h
            else:
                above -= h
                y = above
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{step * 0.7:.1f}" height="{h:.1f}" '
                f'fill="{COLOURS.get(name, "#666")}"><title>{escape(name)}: {values[i]}'
                "</title></rect>"
            )
        parts.append(_label(x + step * 0.35, HEIGHT - 8, label))
    legend = [
        f'<rect x="{PAD + j * 100}" y="4" width="10" height="10" fill="{COLOURS.get(n, "#666")}"/>'
        + _label(PAD + j * 100 + 14, 13, n, "start")
        for j, n in enumerate(series)
    ]
    return _svg(title, "".join(parts + legend))


def heatmap(title: str, rows: list[tuple[str, list[float]]], columns: int) -> SafeString:
    """A triangle of shares in [0, 1]: one row per cohort, one cell per month since."""
    cell_w = (WIDTH - 80) / max(columns, 1)
    cell_h = 18
    height = 30 + cell_h * max(len(rows), 1)
    parts = []
    for r, (label, values) in enumerate(rows):
        y = 20 + r * cell_h
        parts.append(_label(70, y + 13, label, "end"))
        for c, share in enumerate(values):
            x = 76 + c * cell_w
            shade = round(255 - share * 180)
            parts.append(
                f'<rect x="{x:.1f}" y="{y}" width="{cell_w - 1:.1f}" height="{cell_h - 1}" '
                f'fill="rgb({shade},{min(255, shade + 40)},{255})"><title>{escape(label)} +{c}: '
                f"{share:.0%}</title></rect>"
            )
            parts.append(_label(x + cell_w / 2, y + 13, f"{share:.0%}"))
    for c in range(columns):
        parts.append(_label(76 + c * cell_w + cell_w / 2, 14, f"+{c}"))
    return _svg(title, "".join(parts), height=height)


def bars(title: str, items: list[tuple[str, int]]) -> SafeString:
    """Horizontal bars, one per (label, value)."""
    top = max((v for _, v in items), default=0) or 1
    bar_h = 20
    height = 10 + bar_h * max(len(items), 1)
    parts = []
    for i, (label, value) in enumerate(items):
        y = 6 + i * bar_h
        w = (WIDTH - 260) * value / top
        parts.append(_label(200, y + 13, label, "end"))
        parts.append(f'<rect x="206" y="{y}" width="{w:.1f}" height="{bar_h - 4}" fill="#cd4444"/>')
        parts.append(_label(210 + w, y + 13, str(value), "start"))
    return _svg(title, "".join(parts), height=height)


def _month(day: date) -> str:
    return day.strftime("%Y-%m")


def mrr_chart(report: reports.Movements, currency: str) -> Chart:
    """MRR movements of one currency per month, stacked: gains up, losses down."""
    series = report.by_currency.get(currency, [])
    names = [str(k) for k in reports.MOVEMENTS]
    values = {n: [m.moved[n] for m in series] for n in names}
    title = _("MRR movements per month (%(currency)s)") % {"currency": currency}
    svg = stacked_bars(
        title, [_month(m.month) for m in series], values, signed=("contraction", "churned")
    )
    headers = [_("Month"), _("MRR at start"), *[str(LedgerEntry.Kind(n).label) for n in names]]
    headers += [_("MRR at end"), _("Member churn"), _("Revenue churn")]
    rows = [
        [
            _month(m.month),
            format_amount(m.mrr_start, currency),
            *[format_amount(m.moved[n], currency) for n in names],
            format_amount(m.mrr_end, currency),
            _percent(m.member_churn),
            _percent(m.revenue_churn),
        ]
        for m in series
    ]
    return Chart(f"mrr-{currency.lower()}", title, svg, headers, rows)


def members_chart(report: reports.Movements) -> Chart:
    """Paid and trialing memberships at each month's end."""
    title = _("Active members at each month's end")
    labels = [_month(m) for m in report.months]
    values = {
        "paid": [report.members[m][0] for m in report.months],
        "trialing": [report.members[m][1] for m in report.months],
    }
    rows = [
        [_month(m), str(report.members[m][0]), str(report.members[m][1])] for m in report.months
    ]
    return Chart(
        "members",
        title,
        stacked_bars(title, labels, values),
        [_("Month"), _("Paid"), _("Trialing")],
        rows,
    )


def cohort_chart(report: reports.Cohorts) -> Chart:
    """The retention triangle: share of each cohort still paid, month by month."""
    title = _("Retention by month of joining")
    width = max((len(c.retained) for c in report.cohorts), default=0)
    svg = heatmap(title, [(_month(c.month), c.retained) for c in report.cohorts], width)
    headers = [_("Cohort"), _("Members"), *[f"+{i}" for i in range(width)]]
    rows = [
        [_month(c.month), str(c.size), *[f"{share:.0%}" for share in c.retained]]
        for c in report.cohorts
    ]
    return Chart("cohorts", title, svg, headers, rows)


def reasons_chart(report: reports.ChurnReasons) -> Chart:
    """Churned memberships by the reason given."""
    title = _("Churn by reason since %(since)s") % {"since": _month(report.since)}
    labels = dict(CancellationFeedback.Reason.choices)
    items = [(str(labels.get(r, _("No answer"))), n) for r, n in report.counts.items()]
    return Chart(
        "reasons",
        title,
        bars(title, items),
        [_("Reason"), _("Churned memberships")],
        [[label, str(n)] for label, n in items],
    )


def _percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate:.1%}"


def all_charts(months: int) -> list[Chart]:
    """Every chart of the membership report over ``months`` months, from cached figures."""
    moves = reports.movements(months)
    charts = [mrr_chart(moves, currency) for currency in moves.by_currency]
    charts.append(members_chart(moves))
    charts.append(cohort_chart(reports.cohorts(months)))
    charts.append(reasons_chart(reports.churn_reasons(months)))
    return charts
