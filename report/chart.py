"""A small server-side SVG trend chart (no JavaScript needed to read it)."""

from __future__ import annotations

from html import escape
from typing import Any

from report.wording import is_small_sample, percent

# each series told apart without colour too: a solid line with dots, a dashed line with
# squares (the legend says so)
SERIES = [("book_rate", "Book rate", "#2456c5", "", "circle"),
          ("no_show_rate", "No-show rate", "#c2410c", ' stroke-dasharray="6 3"', "square")]


def _denominator(row: dict[str, Any], key: str) -> int:
    if key == "book_rate":
        return int(row.get("eligible_leads") or 0)
    return int(row.get("completed_meetings") or 0) + int(row.get("no_shows") or 0)


def trend_svg(rows: list[dict[str, Any]], *, width: int = 480, height: int = 240,
              hide_no_show: bool = False) -> str:
    """Two lines (book rate, no-show rate) over the weeks in ``rows``, 0–100%. The view
    box is narrow so its 13-unit labels stay readable when a phone scales it down; a
    rate from fewer than 10 cases is drawn as a hollow point and says so; a book rate
    still provisional (its leads can still book) is ringed."""
    left, right, top, bottom = 40, 12, 12, 40
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
        out.append(f'<text x="{left - 5}" y="{ty + 4:.1f}" text-anchor="end" '
                   f'font-size="13" fill="#5b6270">{int(tick * 100)}%</text>')
    every = 1 if n <= 6 else 2 if n <= 12 else 3
    for i, row in enumerate(rows):
        if (n - 1 - i) % every == 0:
            label = "W" + str(row["iso_week"]).split("-W")[-1]
            out.append(f'<text x="{x(i):.1f}" y="{height - bottom + 18}" text-anchor="middle" '
                       f'font-size="13" fill="#5b6270">{escape(label)}</text>')
    out.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 4}" text-anchor="middle" '
               'font-size="13" fill="#5b6270">week</text>')
    for key, label, colour, dash, marker in SERIES:
        if key == "no_show_rate" and hide_no_show:
            continue
        points = [(i, None if row[key] is None else float(row[key]))
                  for i, row in enumerate(rows)]
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
                       f'stroke-width="2.5"{dash} points="{" ".join(seg)}"/>')
        for i, value in points:
            if value is None:
                continue
            cases = _denominator(rows[i], key)
            small = is_small_sample(cases)
            tip = f"{rows[i]['iso_week']}: {label.lower()} {percent(value)} (from {cases})"
            if small:
                tip += ", small sample"
            provisional = key == "book_rate" and bool(rows[i].get("is_book_rate_provisional"))
            if provisional:
                tip += ", provisional (these leads can still book)"
                out.append(f'<circle class="provisional" cx="{x(i):.1f}" cy="{y(value):.1f}" '
                           f'r="8" fill="none" stroke="{colour}" stroke-width="1.5"/>')
            fill = "#ffffff" if small else colour
            classes = f'point-{key}{" small-sample" if small else ""}'
            if marker == "square":
                out.append(f'<rect class="{classes}" x="{x(i) - 4:.1f}" y="{y(value) - 4:.1f}" '
                           f'width="8" height="8" fill="{fill}" stroke="{colour}" '
                           f'stroke-width="2"><title>{escape(tip)}</title></rect>')
            else:
                out.append(f'<circle class="{classes}" cx="{x(i):.1f}" cy="{y(value):.1f}" '
                           f'r="4.5" fill="{fill}" stroke="{colour}" stroke-width="2">'
                           f'<title>{escape(tip)}</title></circle>')
    out.append("</svg>")
    return "\n".join(out)
