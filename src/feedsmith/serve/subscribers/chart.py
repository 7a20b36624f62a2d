"""The subscribers-over-time chart of ``/stats``: an SVG drawn here, inline in the page.

Server-side on purpose: the page must work without JavaScript and load nothing from anyone
else (the page's CSP allows no script at all). Pure: (day, total) pairs in, SVG text out;
every value that reaches the markup is a number or an escaped date.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

WIDTH, HEIGHT = 720, 240
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 48, 12, 12, 28


def _nice_max(value: int) -> int:
    """The axis top: 1, 2 or 5 times a power of ten, at least ``value`` (and at least 1)."""
    step = 1
    while True:
        for mult in (1, 2, 5):
            if step * mult >= value:
                return max(1, step * mult)
        step *= 10


def history_svg(points: Sequence[tuple[str, int]]) -> str:
    """A line (with dots) of the daily totals; an empty chart says there is nothing yet."""
    inner_w = WIDTH - PAD_LEFT - PAD_RIGHT
    inner_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    top = _nice_max(max((n for _, n in points), default=0))
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" class="chart" '
        f'aria-label="Subscribers per day">',
        f'<rect x="{PAD_LEFT}" y="{PAD_TOP}" width="{inner_w}" height="{inner_h}" '
        'fill="none" stroke="#ccc"/>',
    ]
    for frac in (0.0, 0.5, 1.0):
        y = PAD_TOP + inner_h * (1 - frac)
        out.append(
            f'<text x="{PAD_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">'
            f"{round(top * frac)}</text>"
        )
    if not points:
        out.append(
            f'<text x="{WIDTH / 2:.0f}" y="{HEIGHT / 2:.0f}" text-anchor="middle" '
            'font-size="13">No history yet</text></svg>'
        )
        return "".join(out)
    span = max(1, len(points) - 1)
    coords = [
        (PAD_LEFT + inner_w * i / span, PAD_TOP + inner_h * (1 - n / top))
        for i, (_, n) in enumerate(points)
    ]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    out.append(f'<polyline points="{path}" fill="none" stroke="#d35400" stroke-width="2"/>')
    for (day, n), (x, y) in zip(points, coords, strict=True):
        out.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="#d35400">'
            f"<title>{escape(day)}: {n}</title></circle>"
        )
    for i in sorted({0, len(points) - 1}):
        x = coords[i][0]
        anchor = "start" if i == 0 else "end"
        out.append(
            f'<text x="{x:.1f}" y="{HEIGHT - 8}" text-anchor="{anchor}" font-size="11">'
            f"{escape(points[i][0])}</text>"
        )
    out.append("</svg>")
    return "".join(out)
