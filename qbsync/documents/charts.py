"""Charts as inline SVG, drawn from report figures: no script, no font or image to fetch, prints as drawn.

Every chart is an ``<svg class="chart" data-chart=NAME data-marks=N>`` whose N data marks (bars,
points, intervals, cells) carry ``class="mark"`` and the figure they stand for in ``data-value``, so
a test can count what was drawn and read back what it means. Text is escaped here; sizes are in a
``viewBox`` so a chart scales to the page (screen, A4 or Letter) without reflowing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

#: colours readable in print and by the colour-blind (Okabe-Ito)
BLUE, ORANGE, GREEN, RED, GREY, SKY, PURPLE, YELLOW = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#888888",
                                                       "#56B4E9", "#CC79A7", "#F0E442")
PALETTE = (BLUE, ORANGE, GREEN, RED, PURPLE, SKY, YELLOW, GREY)


@dataclass(frozen=True)
class Bar:
    key: str
    label: str
    value: float  # what the bar's length stands for
    data: str  # the figure as the report's JSON has it ("1234.50")
    shown: str  # the figure as printed under the bar ("1,234.50")
    colour: str = BLUE


def _svg(name: str, marks: int, width: int, height: int, body: list[str], title: str) -> Markup:
    return Markup(f'<svg class="chart" data-chart="{escape(name)}" data-marks="{marks}" role="img" '
                  f'viewBox="0 0 {width} {height}" preserveAspectRatio="xMidYMid meet" '
                  f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>{"".join(body)}</svg>')


def _text(x: float, y: float, text: str, *, anchor: str = "middle", size: int = 11, weight: str = "normal",
          fill: str = "#222", cls: str = "") -> str:
    extra = f' class="{cls}"' if cls else ""
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" font-weight="{weight}" '
            f'fill="{fill}"{extra}>{escape(text)}</text>')


def tick(value: float) -> str:
    """An axis label: whole numbers with thousands separators, small ones with two digits."""
    return f"{value:,.0f}" if abs(value) >= 10 or value == int(value) else f"{value:.2g}"


def nice_max(value: float) -> float:
    """A round axis maximum at or above ``value`` (1, 2, 2.5, 5 x 10^n)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def bars(name: str, items: Sequence[Bar], *, title: str, width: int = 640, height: int = 240,
         axis_note: str = "") -> Markup:
    """Vertical bars, one per item, the figure printed above each; negative bars hang below zero."""
    left, right, top, bottom = 16, 16, 28, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    high = nice_max(max((b.value for b in items), default=0.0))
    low = -nice_max(-min((b.value for b in items), default=0.0)) if any(b.value < 0 for b in items) else 0.0
    span = high - low or 1.0

    def y(v: float) -> float:
        return top + plot_h * (high - v) / span

    slot = plot_w / max(len(items), 1)
    body = [f'<line x1="{left}" x2="{width - right}" y1="{y(0):.1f}" y2="{y(0):.1f}" stroke="#999"/>']
    for i, b in enumerate(items):
        x = left + i * slot + slot * 0.15
        y0, y1 = sorted((y(0), y(b.value)))
        body.append(f'<rect class="mark" data-key="{escape(b.key)}" data-value="{escape(b.data)}" '
                    f'x="{x:.1f}" y="{y0:.1f}" width="{slot * 0.7:.1f}" height="{max(y1 - y0, 0.5):.1f}" '
                    f'fill="{b.colour}"><title>{escape(b.label)}: {escape(b.shown)}</title></rect>')
        label_y = y0 - 5 if b.value >= 0 else y1 + 13
        body.append(_text(x + slot * 0.35, label_y, b.shown, size=11, cls="value"))
        words, lines = b.label.split(), [""]
        for word in words:  # wrap a label wider than its slot (about 6 px a character)
            if lines[-1] and len(lines[-1] + " " + word) * 6.2 > slot:
                lines.append(word)
            else:
                lines[-1] = (lines[-1] + " " + word).strip()
        for n, line in enumerate(lines[:2]):
            body.append(_text(x + slot * 0.35, height - bottom + 16 + n * 13, line, size=11))
    if axis_note:
        body.append(_text(width / 2, height - 6, axis_note, size=10, fill="#555"))
    return _svg(name, len(items), width, height, body, title)


def pareto(name: str, items: Sequence[Bar], curve: Sequence[tuple[float, float]], *, customers: int,
           marker: tuple[float, str] | None, title: str, width: int = 640, height: int = 280) -> Markup:
    """Bars of the top customers' spend (left axis) and the cumulative share of revenue over all
    paying customers (right axis, 0-100 %), ``curve`` as (share of customers, share of revenue)."""
    left, right, top, bottom = 16, 44, 20, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    high = nice_max(max((b.value for b in items), default=0.0))
    body: list[str] = []
    bar_w = plot_w * 0.5 / max(len(items), 1)
    for i, b in enumerate(items):
        h = plot_h * b.value / high
        body.append(f'<rect class="mark" data-key="{escape(b.key)}" data-value="{escape(b.data)}" '
                    f'x="{left + i * bar_w:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w * 0.85:.1f}" '
                    f'height="{max(h, 0.5):.1f}" fill="{SKY}">'
                    f"<title>{escape(b.label)}: {escape(b.shown)}</title></rect>")
    points = " ".join(f"{left + plot_w * x:.1f},{top + plot_h * (1 - y):.1f}" for x, y in curve)
    body.append(f'<polyline class="curve" data-points="{len(curve)}" points="{points}" fill="none" '
                f'stroke="{BLUE}" stroke-width="2"/>')
    for pct in (0, 50, 80, 100):
        yy = top + plot_h * (1 - pct / 100)
        body.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#ddd"/>')
        body.append(_text(left + plot_w + 4, yy + 4, f"{pct}%", anchor="start", size=10, fill="#555"))
    if marker is not None:
        mx = left + plot_w * marker[0]
        body.append(f'<line class="pareto-80" x1="{mx:.1f}" x2="{mx:.1f}" y1="{top}" y2="{top + plot_h}" '
                    f'stroke="{RED}" stroke-dasharray="4 3"/>')
        anchor = "start" if mx < width / 2 else "end"
        body.append(_text(min(mx + 4, left + plot_w - 4), top + 12, marker[1], anchor=anchor, size=11,
                          fill=RED))
    body.append(_text(left, height - 22, f"top {len(items)} customers' spend (bars)", anchor="start", size=10,
                      fill="#555"))
    body.append(_text(left + plot_w, height - 22, f"share of revenue over all {customers:,} paying customers "
                      "(line)", anchor="end", size=10, fill="#555"))
    body.append(_text(left, height - 6, "0%", anchor="start", size=10, fill="#555"))
    body.append(_text(left + plot_w, height - 6, "100% of customers", anchor="end", size=10, fill="#555"))
    return _svg(name, len(items), width, height, body, title)


@dataclass(frozen=True)
class Point:
    key: str
    label: str
    x: float
    y: float
    data: str


def scatter(name: str, points: Sequence[Point], *, x_label: str, y_label: str, title: str,
            x_range: tuple[float, float] = (0.0, 1.0), width: int = 640, height: int = 300) -> Markup:
    """Points on x (fixed range) against y (0 to a round maximum); the first points drawn on top."""
    left, right, top, bottom = 56, 16, 16, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    high = nice_max(max((p.y for p in points), default=0.0))
    x0, x1 = x_range
    body = [f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#bbb"/>']
    for frac in (0.0, 0.25, 0.5, 0.75, 1.0):
        xx = left + plot_w * frac
        body.append(_text(xx, top + plot_h + 14, f"{x0 + (x1 - x0) * frac:.2f}", size=10, fill="#555"))
        yy = top + plot_h * (1 - frac)
        body.append(_text(left - 4, yy + 4, tick(high * frac), anchor="end", size=10, fill="#555"))
    for i, p in reversed(list(enumerate(points))):
        xx = left + plot_w * (p.x - x0) / ((x1 - x0) or 1)
        yy = top + plot_h * (1 - p.y / high)
        colour = RED if i < 10 else ORANGE
        body.append(f'<circle class="mark" data-key="{escape(p.key)}" data-value="{escape(p.data)}" '
                    f'cx="{xx:.1f}" cy="{yy:.1f}" r="4" fill="{colour}" fill-opacity="0.8">'
                    f"<title>{escape(p.label)}</title></circle>")
    body.append(_text(left + plot_w / 2, height - 8, x_label, size=11))
    body.append(f'<text x="12" y="{top + plot_h / 2:.1f}" font-size="11" text-anchor="middle" '
                f'transform="rotate(-90 12 {top + plot_h / 2:.1f})">{escape(y_label)}</text>')
    return _svg(name, len(points), width, height, body, title)


@dataclass(frozen=True)
class Interval:
    key: str
    label: str
    contacted: float  # return rate of the contacted group
    control: float
    lift: float
    low: float
    high: float


def lift(name: str, rows: Sequence[Interval], *, title: str, width: int = 640) -> Markup:
    """Per campaign: the two return rates as bars, and the lift (difference) with its 95 % interval
    as a point with whiskers on a -100..+100 point axis centred on zero."""
    row_h, top, left = 54, 24, 150
    height = top + row_h * max(len(rows), 1) + 24
    rate_w, gap = 150, 24
    axis_l = left + rate_w + gap
    axis_w = width - axis_l - 16
    lo = min([-0.1, *(r.low for r in rows)])
    hi = max([0.1, *(r.high for r in rows)])
    span = max(abs(lo), abs(hi))
    lo, hi = -span, span

    def ax(v: float) -> float:
        return axis_l + axis_w * (v - lo) / (hi - lo)

    body = [_text(left + rate_w / 2, 14, "came back: contacted / control", size=10, fill="#555"),
            _text(axis_l + axis_w / 2, 14, "lift with 95% interval (points)", size=10, fill="#555"),
            f'<line x1="{ax(0):.1f}" x2="{ax(0):.1f}" y1="{top}" y2="{height - 20}" stroke="#999"/>']
    for i, r in enumerate(rows):
        y = top + i * row_h
        body.append(_text(left - 6, y + 22, r.label, anchor="end", size=11))
        for j, (rate, colour) in enumerate(((r.contacted, BLUE), (r.control, GREY))):
            body.append(f'<rect class="rate" x="{left}" y="{y + 6 + j * 18:.1f}" width="{rate_w * rate:.1f}" '
                        f'height="14" fill="{colour}"/>')
            body.append(_text(left + rate_w * rate + 3, y + 17 + j * 18, f"{rate:.1%}", anchor="start",
                              size=10))
        cy = y + 22
        body.append(f'<g class="mark" data-key="{escape(r.key)}" data-value="{r.lift:.4f}" '
                    f'data-low="{r.low:.4f}" data-high="{r.high:.4f}">'
                    f'<line x1="{ax(r.low):.1f}" x2="{ax(r.high):.1f}" y1="{cy}" y2="{cy}" stroke="{BLUE}" '
                    f'stroke-width="2"/>'
                    f'<line x1="{ax(r.low):.1f}" x2="{ax(r.low):.1f}" y1="{cy - 6}" y2="{cy + 6}" '
                    f'stroke="{BLUE}"/>'
                    f'<line x1="{ax(r.high):.1f}" x2="{ax(r.high):.1f}" y1="{cy - 6}" y2="{cy + 6}" '
                    f'stroke="{BLUE}"/><circle cx="{ax(r.lift):.1f}" cy="{cy}" r="5" fill="{RED}"/>'
                    f"<title>{escape(r.label)}: lift {r.lift * 100:+.1f} points "
                    f"({r.low * 100:+.1f} to {r.high * 100:+.1f})</title></g>")
        body.append(_text(ax(r.lift), cy - 9, f"{r.lift * 100:+.1f}", size=10))
    for v in (lo, lo / 2, 0.0, hi / 2, hi):
        body.append(_text(ax(v), height - 6, f"{v * 100:+.0f}", size=10, fill="#555"))
    return _svg(name, len(rows), width, height, body, title)


def stacked(name: str, periods: Sequence[str], series: Sequence[tuple[str, str, Sequence[float],
                                                                      Sequence[str]]], *,
            title: str, width: int = 640, height: int = 260) -> Markup:
    """One bar per period stacked by series: (key, label, values per period, figures per period)."""
    left, right, top, bottom = 16, 16, 16, 60
    plot_w, plot_h = width - left - right, height - top - bottom
    totals = [sum(s[2][i] for s in series) for i in range(len(periods))]
    high = nice_max(max(totals, default=0.0))
    slot = plot_w / max(len(periods), 1)
    body: list[str] = []
    marks = 0
    for i, period in enumerate(periods):
        x = left + i * slot + slot * 0.2
        base = float(top + plot_h)
        for k, (key, label, values, figures) in enumerate(series):
            if values[i] <= 0:
                continue
            h = plot_h * values[i] / high
            base -= h
            marks += 1
            body.append(f'<rect class="mark" data-key="{escape(period)}/{escape(key)}" '
                        f'data-value="{escape(figures[i])}" x="{x:.1f}" y="{base:.1f}" '
                        f'width="{slot * 0.6:.1f}" '
                        f'height="{h:.1f}" fill="{PALETTE[k % len(PALETTE)]}">'
                        f"<title>{escape(period)} {escape(label)}: {escape(figures[i])}</title></rect>")
        body.append(_text(x + slot * 0.3, top + plot_h + 14, period, size=10))
    for k, (_, label, _, _) in enumerate(series):
        lx = left + (k % 6) * (plot_w / 6)
        ly = height - 28 + (k // 6) * 14
        body.append(f'<rect x="{lx:.1f}" y="{ly - 9:.1f}" width="10" height="10" '
                    f'fill="{PALETTE[k % len(PALETTE)]}"/>')
        body.append(_text(lx + 14, ly, label, anchor="start", size=10))
    return _svg(name, marks, width, height, body, title)


def heat_colour(value: float, high: float) -> str:
    """White to blue by ``value / high`` (negative: to orange), as a CSS background."""
    if high <= 0 or value == 0:
        return "#ffffff"
    t = max(-1.0, min(1.0, value / high))
    base = (0, 114, 178) if t > 0 else (230, 159, 0)
    t = abs(t) ** 0.6  # small cells stay visible
    r, g, b = (round(255 + (c - 255) * t * 0.85) for c in base)
    return f"#{r:02x}{g:02x}{b:02x}"
