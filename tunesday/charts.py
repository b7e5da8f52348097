"""Charts as inline SVG for the HTML reports (tunesday/report.py, tunesday/experiment_report.py): a
page that embeds them needs no network, no JavaScript and no plotting library to open.

Three kinds, all drawn on the same frame (a title, a left axis with five ticks, labels under the
plot, a legend of the series):

- `line_chart`: one line per series over shared x positions (dates or numbers);
- `bar_chart`: one bar per series in each category, side by side, or stacked;
- `band_chart`: a line with its interval as a band, and the zero line (an experiment's lift).

Every text is escaped; values that are None are gaps.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Callable, Mapping, Sequence
from typing import Any

#: Series colours, in order (colour-blind safe: Okabe and Ito).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")

WIDTH, HEIGHT = 680, 280
LEFT, RIGHT, TOP, BOTTOM = 60, 16, 30, 62

Format = Callable[[float], str]


def percent(value: float) -> str:
    size = abs(value)
    return f"{value:.0%}" if size >= 0.1 or value == 0 else f"{value:.1%}" if size >= 0.01 else f"{value:.2%}"


def signed_percent(value: float) -> str:
    return f"{value:+.0%}"


def number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 10 else f"{value:.2g}"


class _Frame:
    """The plot area, its vertical scale from `low` to `high`, the title and the left axis."""

    def __init__(self, title: str, low: float, high: float, y_format: Format, width: int, height: int) -> None:
        if high - low < 1e-12:
            low, high = low - 0.5 if low else 0.0, high + 0.5 if high else 1.0
        self.low, self.high, self.width, self.height = low, high, width, height
        self.parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{html.escape(title)}" '
            'font-family="sans-serif" font-size="11">',
            f'<text x="{LEFT}" y="17" font-size="13" font-weight="bold">{html.escape(title)}</text>',
        ]
        for index in range(5):
            value = low + (high - low) * index / 4
            self.parts.append(
                f'<line x1="{LEFT}" x2="{width - RIGHT}" y1="{self.y(value):.1f}" '
                f'y2="{self.y(value):.1f}" stroke="#e4e4e4"/>'
            )
            self.parts.append(
                f'<text x="{LEFT - 6}" y="{self.y(value) + 4:.1f}" text-anchor="end">'
                f"{html.escape(y_format(value))}</text>"
            )

    @property
    def plot_width(self) -> float:
        return self.width - LEFT - RIGHT

    def y(self, value: float) -> float:
        return TOP + (self.height - TOP - BOTTOM) * (self.high - value) / (self.high - self.low)

    def legend(self, names: Sequence[str]) -> None:
        """A key of the series under the plot, in as many rows as it takes (two fit)."""
        if len(names) < 2:
            return
        x, y = float(LEFT), self.height - BOTTOM + 32
        for index, name in enumerate(names):
            step = 24 + 6.2 * len(name)
            if x > LEFT and x + step > self.width - RIGHT:
                x, y = LEFT, y + 14
            colour = PALETTE[index % len(PALETTE)]
            self.parts.append(f'<rect x="{x:.1f}" y="{y}" width="10" height="10" fill="{colour}"/>')
            self.parts.append(f'<text x="{x + 14:.1f}" y="{y + 9}">{html.escape(name)}</text>')
            x += step

    def svg(self) -> str:
        return "".join([*self.parts, "</svg>"])


def _wrapped(text: str, x: float, y: float, room: float) -> str:
    """A centred label, on two lines when one is wider than `room` (about 6 px a character)."""
    words, lines = text.split(), [text]
    if len(text) * 6 > room and len(words) > 1:
        cut = min(range(1, len(words)), key=lambda n: abs(len(" ".join(words[:n])) - len(" ".join(words[n:]))))
        lines = [" ".join(words[:cut]), " ".join(words[cut:])]
    spans = "".join(
        f'<tspan x="{x:.1f}" dy="{0 if i == 0 else 12}">{html.escape(line)}</tspan>' for i, line in enumerate(lines)
    )
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="middle">{spans}</text>'


def _label(value: object) -> str:
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def line_chart(
    series: Mapping[str, Sequence[tuple[Any, float | None]]],
    title: str,
    y_format: Format = number,
    zero_based: bool = True,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> str:
    """Lines of (x, y) points per series name; x are dates or numbers, shared by the series (a
    series lacking an x has a gap there)."""
    xs = sorted({x for points in series.values() for x, _ in points})
    values = [y for points in series.values() for _, y in points if y is not None]
    if not xs or not values:
        return f"<p>{html.escape(title)}: no data yet.</p>"
    frame = _Frame(title, min(values + [0.0] if zero_based else values), max(values), y_format, width, height)
    position = {
        x: LEFT + frame.plot_width * (index / (len(xs) - 1) if len(xs) > 1 else 0.5) for index, x in enumerate(xs)
    }
    for index, (name, points) in enumerate(series.items()):
        colour = PALETTE[index % len(PALETTE)]
        segment: list[str] = []
        ordered = sorted(points, key=lambda point: point[0])
        for x, y in [*ordered, (None, None)]:
            if y is None:
                if len(segment) > 1:
                    frame.parts.append(
                        f'<polyline points="{" ".join(segment)}" fill="none" stroke="{colour}" stroke-width="2"/>'
                    )
                segment = []
                continue
            segment.append(f"{position[x]:.1f},{frame.y(y):.1f}")
            frame.parts.append(
                f'<circle cx="{position[x]:.1f}" cy="{frame.y(y):.1f}" r="2.5" fill="{colour}">'
                f"<title>{html.escape(name)} {html.escape(_label(x))}: {html.escape(y_format(y))}"
                "</title></circle>"
            )
    shown = xs if len(xs) <= 8 else [xs[0], xs[len(xs) // 2], xs[-1]]
    for x in shown:
        anchor = "start" if x == xs[0] and len(xs) > 1 else "end" if x == xs[-1] and len(xs) > 1 else "middle"
        frame.parts.append(
            f'<text x="{position[x]:.1f}" y="{height - BOTTOM + 16}" text-anchor="{anchor}">'
            f"{html.escape(_label(x))}</text>"
        )
    frame.legend(list(series))
    return frame.svg()


def bar_chart(
    categories: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    title: str,
    y_format: Format = number,
    stacked: bool = False,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> str:
    """Per category, one bar per series side by side (or stacked); `series` values are in the
    order of `categories`."""
    if not categories or not series:
        return f"<p>{html.escape(title)}: no data yet.</p>"
    columns = [[value or 0.0 for value in values] for values in series.values()]
    high = max(
        (sum(column[i] for column in columns) if stacked else max(column[i] for column in columns))
        for i in range(len(categories))
    )
    frame = _Frame(title, 0.0, high, y_format, width, height)
    slot = frame.plot_width / len(categories)
    bar = slot * 0.8 / (1 if stacked else len(columns))
    for c, category in enumerate(categories):
        base = 0.0
        for s, (name, column) in enumerate(zip(series, columns)):
            value = column[c]
            x = LEFT + slot * c + slot * 0.1 + (0 if stacked else bar * s)
            top, bottom = (base + value, base) if stacked else (value, 0.0)
            frame.parts.append(
                f'<rect x="{x:.1f}" y="{frame.y(top):.1f}" width="{max(bar - 1, 1):.1f}" '
                f'height="{max(frame.y(bottom) - frame.y(top), 0):.1f}" fill="{PALETTE[s % len(PALETTE)]}">'
                f"<title>{html.escape(name)}, {html.escape(category)}: {html.escape(y_format(value))}</title></rect>"
            )
            base += value if stacked else 0.0
        every = max(1, round(len(categories) / 24))
        if c % every == 0:
            frame.parts.append(_wrapped(category, LEFT + slot * (c + 0.5), height - BOTTOM + 14, slot))
    frame.legend(list(series))
    return frame.svg()


def band_chart(
    points: Sequence[tuple[dt.date, float, float, float]],
    title: str,
    y_format: Format = signed_percent,
    width: int = WIDTH,
    height: int = 260,
) -> str:
    """A line of (day, value, low, high) points, its [low, high] interval as a band, and the zero
    line: an experiment's lift over the days."""
    if not points:
        return "<p>No days with a result yet.</p>"
    frame = _Frame(title, min(0.0, *(p[2] for p in points)), max(0.0, *(p[3] for p in points)), y_format, width, height)
    days = [(p[0] - points[0][0]).days for p in points]
    span = max(days[-1], 1)

    def x(day: int) -> float:
        return LEFT + frame.plot_width * day / span

    band = [(x(d), frame.y(p[3])) for d, p in zip(days, points)]
    band += [(x(d), frame.y(p[2])) for d, p in reversed(list(zip(days, points)))]
    line = [(x(d), frame.y(p[1])) for d, p in zip(days, points)]
    frame.parts += [
        f'<polygon points="{" ".join(f"{px:.1f},{py:.1f}" for px, py in band)}" fill="#9ecae1" fill-opacity="0.6"/>',
        f'<line x1="{LEFT}" x2="{width - RIGHT}" y1="{frame.y(0):.1f}" y2="{frame.y(0):.1f}" stroke="#555" '
        'stroke-dasharray="4 3"/>',
        f'<polyline points="{" ".join(f"{px:.1f},{py:.1f}" for px, py in line)}" fill="none" stroke="#08519c" '
        'stroke-width="2"/>',
        f'<text x="{x(days[0]):.1f}" y="{height - BOTTOM + 16}">{points[0][0].isoformat()}</text>',
    ]
    if len(points) > 1:
        frame.parts.append(
            f'<text x="{x(days[-1]):.1f}" y="{height - BOTTOM + 16}" text-anchor="end">'
            f"{points[-1][0].isoformat()}</text>"
        )
    return frame.svg()
