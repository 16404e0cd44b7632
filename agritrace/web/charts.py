"""Bar charts drawn on the server as inline SVG: no JavaScript, no inline style (the CSP
forbids both), only SVG presentation attributes. Each chart has a title and a description
for screen readers, and every bar a ``<title>`` with its exact value."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

__all__ = ["bar_chart"]

WIDTH = 640
HEIGHT = 220
_PAD_L, _PAD_R, _PAD_T, _PAD_B = 44, 8, 12, 28


def _nice_max(value: int) -> int:
    if value <= 5:
        return 5
    magnitude: int = 10 ** (len(str(value)) - 1)
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return value  # pragma: no cover - the loop always returns


def bar_chart(
    points: Sequence[tuple[str, int]], *, title: str, description: str, color: str = "#0a6631"
) -> Markup:
    """An SVG bar chart of ``points`` (label, whole number), labels thinned to fit."""
    top = _nice_max(max((v for _, v in points), default=0))
    inner_w = WIDTH - _PAD_L - _PAD_R
    inner_h = HEIGHT - _PAD_T - _PAD_B
    slot = inner_w / max(len(points), 1)
    bar_w = max(slot * 0.7, 1.0)
    every = max(1, round(len(points) / 8))
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="c-{id(points)}-t c-{id(points)}-d" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="c-{id(points)}-t">{escape(title)}</title>',
        f'<desc id="c-{id(points)}-d">{escape(description)}</desc>',
    ]
    for fraction in (0, 0.5, 1):
        y = _PAD_T + inner_h * (1 - fraction)
        parts.append(
            f'<line x1="{_PAD_L}" x2="{WIDTH - _PAD_R}" y1="{y:.1f}" y2="{y:.1f}" '
            'stroke="#d4d4d0" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{_PAD_L - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="12" '
            f'fill="#4a4a4a">{int(top * fraction)}</text>'
        )
    for n, (label, value) in enumerate(points):
        height = inner_h * value / top if top else 0
        x = _PAD_L + n * slot + (slot - bar_w) / 2
        y = _PAD_T + inner_h - height
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{height:.1f}" '
            f'fill="{escape(color)}"><title>{escape(label)}: {value}</title></rect>'
        )
        if n % every == 0:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{HEIGHT - 8}" text-anchor="middle" '
                f'font-size="11" fill="#4a4a4a">{escape(label)}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every value above is escaped or a number
