"""A small server-side SVG trend chart (no JavaScript needed to read it)."""

from __future__ import annotations

from html import escape
from typing import Any

from report.data import as_float, fmt_rate

SERIES = [("book_rate", "Book rate", "#2456c5"), ("no_show_rate", "No-show rate", "#c2410c")]


def trend_svg(rows: list[dict[str, Any]], *, width: int = 640, height: int = 240,
              hide_no_show: bool = False) -> str:
    """Two lines (book rate, no-show rate) over the weeks in ``rows``, 0–100%."""
    left, right, top, bottom = 44, 16, 16, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    n = max(len(rows), 1)
    step = plot_w / max(n - 1, 1)

    def x(i: int) -> float:
        return left + (i * step if n > 1 else plot_w / 2)

    def y(value: float) -> float:
        return top + plot_h * (1 - value)

    out = [f'<svg class="trend" viewBox="0 0 {width} {height}" role="img" '
           f'aria-labelledby="trend-title" xmlns="http://www.w3.org/2000/svg">',
           '<title id="trend-title">Book rate and no-show rate by week</title>']
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        ty = y(tick)
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{ty:.1f}" y2="{ty:.1f}" '
                   'stroke="#e3e6ec" stroke-width="1"/>')
        out.append(f'<text x="{left - 6}" y="{ty + 4:.1f}" text-anchor="end" '
                   f'font-size="11" fill="#5b6270">{int(tick * 100)}%</text>')
    for i, row in enumerate(rows):
        if n <= 8 or i % 2 == (n - 1) % 2:
            label = str(row["iso_week"]).split("-")[-1]
            out.append(f'<text x="{x(i):.1f}" y="{height - bottom + 16}" text-anchor="middle" '
                       f'font-size="11" fill="#5b6270">{escape(label)}</text>')
    out.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 6}" text-anchor="middle" '
               'font-size="11" fill="#5b6270">ISO week</text>')
    for key, label, colour in SERIES:
        if key == "no_show_rate" and hide_no_show:
            continue
        points = [(i, as_float(row[key])) for i, row in enumerate(rows)]
        segment: list[str] = []
        segments: list[list[str]] = []
        for i, value in points:
            if value is None:
                if segment:
                    segments.append(segment)
                segment = []
            else:
                segment.append(f"{x(i):.1f},{y(value):.1f}")
        if segment:
            segments.append(segment)
        for seg in segments:
            out.append(f'<polyline class="series-{key}" fill="none" stroke="{colour}" '
                       f'stroke-width="2.5" points="{" ".join(seg)}"/>')
        for i, value in points:
            if value is None:
                continue
            tip = f"{rows[i]['iso_week']}: {label.lower()} {fmt_rate(value)}"
            out.append(f'<circle class="point-{key}" cx="{x(i):.1f}" cy="{y(value):.1f}" r="4" '
                       f'fill="{colour}"><title>{escape(tip)}</title></circle>')
    out.append("</svg>")
    return "\n".join(out)
