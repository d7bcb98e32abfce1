"""Small inline SVG charts: lines over a numeric x axis (rounds or time), with marked moments; grouped bars.

Pure functions from numbers to SVG text: no plotting library in a Lambda's cold path, nothing fetched when
the page opens. Every series is one `<path class="series" data-series="NAME">` and one legend entry with
the same name, so a reader (or a test in a browser) finds each plotted series by its name.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from html import escape

from pydantic import BaseModel

WIDTH, HEIGHT = 760, 280
LEFT, RIGHT, TOP, BOTTOM = 64, 36, 16, 44
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f")
MARKER_COLOURS = {"interruption": "#d62728", "resume": "#2ca02c", "alarm": "#d62728", "step": "#7f7f7f"}


class Series(BaseModel):
    name: str
    points: Sequence[tuple[float, float | None]]  # (x, y); y None = a gap
    dashed: bool = False
    step: bool = False  # hold each value until the next x (traffic weights)


class Marker(BaseModel):
    x: float
    label: str
    kind: str = "step"  # interruption | resume | alarm | step


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high]."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return [0.0]
    if high <= low:
        high = low + (abs(low) or 1.0)
    raw = (high - low) / max(1, count)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step) * step
    ticks, value = [], first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    if ticks[-1] < high:
        ticks.append(round(value, 10))
    return ticks


def _number(value: float) -> str:
    return f"{value:.4g}"


def clock(seconds: float) -> str:
    """An epoch-seconds tick as UTC time of day."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%H:%M:%S")


def line_chart(
    series: Sequence[Series],
    *,
    title: str,
    x_label: str,
    y_label: str,
    markers: Sequence[Marker] = (),
    y_range: tuple[float, float] | None = None,
    x_format: Callable[[float], str] = _number,
) -> str:
    xs = [x for s in series for x, _ in s.points] + [m.x for m in markers]
    ys = [y for s in series for _, y in s.points if y is not None and math.isfinite(y)]
    if not xs or not ys:
        raise ValueError(f"chart {title!r} has no points")
    x_ticks = nice_ticks(min(xs), max(xs)) if x_format is _number else _spread(min(xs), max(xs))
    y_ticks = nice_ticks(*y_range) if y_range else nice_ticks(min(ys), max(ys))
    x0, x1, y0, y1 = x_ticks[0], x_ticks[-1], y_ticks[0], y_ticks[-1]
    if x1 == x0:
        x0, x1 = x0 - 1, x1 + 1
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(x: float) -> float:
        return LEFT + (x - x0) / (x1 - x0) * plot_w

    def py(y: float) -> float:
        return TOP + plot_h - (y - y0) / ((y1 - y0) or 1) * plot_h

    parts = [_open(title), _axes(x_ticks, y_ticks, px, py, x_label, y_label, x_format)]
    for index, marker in enumerate(markers):
        colour = MARKER_COLOURS.get(marker.kind, "#7f7f7f")
        x = px(marker.x)
        parts.append(
            f'<g class="marker" data-kind="{escape(marker.kind)}"><line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" '
            f'y2="{TOP + plot_h}" stroke="{colour}" stroke-dasharray="4 3"/>'
            f'<text x="{x + 3:.1f}" y="{TOP + 12 + 12 * (index % 3)}" font-size="11" fill="{colour}">'
            f"{escape(marker.label)}</text></g>"
        )
    for index, one in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        parts.append(_path(one, colour, px, py, x1))
    parts.append(_legend([(s.name, PALETTE[i % len(PALETTE)], s.dashed) for i, s in enumerate(series)]))
    parts.append("</svg>")
    return "".join(parts)


def _spread(low: float, high: float, count: int = 5) -> list[float]:
    if high <= low:
        return [low - 1, low + 1]
    return [low + (high - low) * i / count for i in range(count + 1)]


def _path(one: Series, colour: str, px: Callable[[float], float], py: Callable[[float], float], x_end: float) -> str:
    commands: list[str] = []
    dots: list[str] = []
    pen_down = False
    points = sorted(one.points, key=lambda p: p[0])
    for index, (x, y) in enumerate(points):
        if y is None or not math.isfinite(y):
            pen_down = False
            continue
        if one.step and pen_down:
            commands.append(f"H{px(x):.1f}")
        commands.append(f"{'L' if pen_down else 'M'}{px(x):.1f},{py(y):.1f}")
        pen_down = True
        if one.step and index == len(points) - 1:
            commands.append(f"H{px(x_end):.1f}")
        if len(points) <= 40:
            dots.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="2.5" fill="{colour}"/>')
    dash = ' stroke-dasharray="6 4"' if one.dashed else ""
    return (
        f'<g class="series-group"><path class="series" data-series="{escape(one.name)}" d="{" ".join(commands)}" '
        f'fill="none" stroke="{colour}" stroke-width="2"{dash}/>{"".join(dots)}</g>'
    )


def bar_chart(
    categories: Sequence[str], groups: Sequence[tuple[str, Sequence[float | None]]], *, title: str, y_label: str
) -> str:
    """Grouped bars: one group of bars per category, one bar (and legend entry) per named group."""
    values = [v for _, vs in groups for v in vs if v is not None and math.isfinite(v)]
    if not categories or not values:
        raise ValueError(f"chart {title!r} has no values")
    y_ticks = nice_ticks(min(0.0, min(values)), max(values))
    y0, y1 = y_ticks[0], y_ticks[-1]
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / len(categories)
    bar = slot * 0.8 / max(1, len(groups))

    def py(y: float) -> float:
        return TOP + plot_h - (y - y0) / ((y1 - y0) or 1) * plot_h

    parts = [_open(title)]
    for tick in y_ticks:
        parts.append(
            f'<line x1="{LEFT}" y1="{py(tick):.1f}" x2="{WIDTH - RIGHT}" y2="{py(tick):.1f}" stroke="#eee"/>'
            f'<text x="{LEFT - 6}" y="{py(tick) + 4:.1f}" font-size="11" text-anchor="end">{_number(tick)}</text>'
        )
    parts.append(_axis_titles("", y_label))
    for index, category in enumerate(categories):
        label = category if len(category) <= 14 else category[:13] + "…"
        parts.append(
            f'<text x="{LEFT + slot * (index + 0.5):.1f}" y="{HEIGHT - BOTTOM + 16}" font-size="11" '
            f'text-anchor="middle">{escape(label)}</text>'
        )
    for g, (name, vs) in enumerate(groups):
        colour = PALETTE[g % len(PALETTE)]
        commands = []
        for index, value in enumerate(vs):
            if value is None or not math.isfinite(value):
                continue
            x = LEFT + slot * index + slot * 0.1 + bar * g
            top, base = py(max(value, 0.0)), py(min(value, 0.0))
            commands.append(f"M{x:.1f},{base:.1f} V{top:.1f} H{x + bar:.1f} V{base:.1f} Z")
        parts.append(f'<path class="series" data-series="{escape(name)}" d="{" ".join(commands)}" fill="{colour}"/>')
    parts.append(_legend([(name, PALETTE[g % len(PALETTE)], False) for g, (name, _) in enumerate(groups)]))
    parts.append("</svg>")
    return "".join(parts)


def _open(title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {HEIGHT + 24}" '
        f'width="{WIDTH}" height="{HEIGHT + 24}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>"
    )


def _axes(
    x_ticks: list[float],
    y_ticks: list[float],
    px: Callable[[float], float],
    py: Callable[[float], float],
    x_label: str,
    y_label: str,
    x_format: Callable[[float], str],
) -> str:
    parts = []
    for tick in y_ticks:
        parts.append(
            f'<line x1="{LEFT}" y1="{py(tick):.1f}" x2="{WIDTH - RIGHT}" y2="{py(tick):.1f}" stroke="#eee"/>'
            f'<text x="{LEFT - 6}" y="{py(tick) + 4:.1f}" font-size="11" text-anchor="end">{_number(tick)}</text>'
        )
    for tick in x_ticks:
        parts.append(
            f'<text x="{px(tick):.1f}" y="{HEIGHT - BOTTOM + 16}" font-size="11" text-anchor="middle">'
            f"{escape(x_format(tick))}</text>"
        )
    parts.append(
        f'<rect x="{LEFT}" y="{TOP}" width="{WIDTH - LEFT - RIGHT}" height="{HEIGHT - TOP - BOTTOM}" '
        'fill="none" stroke="#999"/>'
    )
    parts.append(_axis_titles(x_label, y_label))
    return "".join(parts)


def _axis_titles(x_label: str, y_label: str) -> str:
    middle_y = TOP + (HEIGHT - TOP - BOTTOM) / 2
    return (
        f'<text x="{LEFT + (WIDTH - LEFT - RIGHT) / 2:.1f}" y="{HEIGHT - 8}" font-size="12" text-anchor="middle">'
        f"{escape(x_label)}</text>"
        f'<text x="14" y="{middle_y:.1f}" font-size="12" text-anchor="middle" '
        f'transform="rotate(-90 14 {middle_y:.1f})">{escape(y_label)}</text>'
    )


def _legend(entries: list[tuple[str, str, bool]]) -> str:
    parts = ['<g class="legend">']
    x = LEFT
    for name, colour, dashed in entries:
        dash = ' stroke-dasharray="6 4"' if dashed else ""
        parts.append(
            f'<g class="legend-entry" data-series="{escape(name)}"><line x1="{x}" y1="{HEIGHT + 12}" x2="{x + 18}" '
            f'y2="{HEIGHT + 12}" stroke="{colour}" stroke-width="3"{dash}/>'
            f'<text x="{x + 22}" y="{HEIGHT + 16}" font-size="12">{escape(name)}</text></g>'
        )
        x += 30 + 7 * len(name)
    parts.append("</g>")
    return "".join(parts)
