"""A server-side SVG bar chart of broadcast minutes per day and zone (no JavaScript, no CDN).

Pure: numbers and labels in, SVG text out. Labels are XML-escaped; the SVG uses presentation
attributes only, so it passes the panel's CSP (no inline styles).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from xml.sax.saxutils import escape

PALETTE = ("#0b4f8a", "#d39e00", "#2e7d32", "#8e24aa", "#c62828", "#00838f", "#5d4037", "#546e7a")


def _nice_max(value: float) -> float:
    for step in (5, 10, 15, 30, 60, 90, 120, 180, 240, 360, 480, 720, 1440):
        if value <= step:
            return float(step)
    return float(int(value // 60 + 1) * 60)


def minutes_chart(days: Sequence[date], zones: Sequence[tuple[str, str]],
                  minutes: Mapping[tuple[date, str], float], *, day_labels: Sequence[str],
                  title: str, unit: str, decimal_comma: bool = True) -> str:
    """Grouped bars: one group per day, one bar per zone. ``zones`` is [(name, label)]. Numbers
    with the Vietnamese decimal comma unless ``decimal_comma`` is False (English)."""

    def num(value: float, spec: str) -> str:
        text = format(value, spec)
        return text.replace(".", ",") if decimal_comma else text

    width, height = 640, 300
    left, right, top, bottom = 44, 10, 30, 64
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([minutes.get((d, z), 0.0) for d in days for z, _ in zones] + [0.0])
    top_value = _nice_max(peak)
    group_w = plot_w / max(1, len(days))
    bar_w = max(2.0, (group_w - 8) / max(1, len(zones)))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{escape(title, {chr(34): "&quot;"})}">',
             f'<title>{escape(title)}</title>',
             f'<text x="{left}" y="18" font-size="14" font-weight="bold" fill="#1b1f24">{escape(title)}</text>']
    for i in range(5):
        value = top_value * i / 4
        y = top + plot_h - plot_h * i / 4
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#e3e5e8"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" '
                     f'fill="#556">{num(value, "g")}</text>')
    for di, day in enumerate(days):
        x0 = left + di * group_w + 4
        for zi, (zone, label) in enumerate(zones):
            value = minutes.get((day, zone), 0.0)
            h = plot_h * value / top_value if top_value else 0
            x = x0 + zi * bar_w
            y = top + plot_h - h
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w - 1:.1f}" height="{h:.1f}" '
                         f'fill="{PALETTE[zi % len(PALETTE)]}"><title>{escape(label)}: {num(value, ".1f")} '
                         f'{escape(unit)}</title></rect>')
        parts.append(f'<text x="{left + di * group_w + group_w / 2:.1f}" y="{top + plot_h + 16}" font-size="11" '
                     f'text-anchor="middle" fill="#333">{escape(day_labels[di])}</text>')
    legend_y = height - 18
    x = float(left)
    for zi, (_, label) in enumerate(zones):
        parts.append(f'<rect x="{x:.1f}" y="{legend_y - 10}" width="12" height="12" '
                     f'fill="{PALETTE[zi % len(PALETTE)]}"/>')
        parts.append(f'<text x="{x + 16:.1f}" y="{legend_y}" font-size="12" fill="#333">{escape(label)}</text>')
        x += 24 + 7.5 * len(label)
    parts.append(f'<text x="{width - right}" y="{legend_y}" font-size="11" text-anchor="end" '
                 f'fill="#556">{escape(unit)}</text>')
    parts.append("</svg>")
    return "".join(parts)
