"""Small server-rendered SVG charts for the ops dashboard (no script, no framework)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str,
    width: int = 560,
    height: int = 160,
) -> str:
    """A bar chart as an inline SVG element.

    Args:
        labels: one label per bar (shown under every other bar when crowded).
        values: one value per bar, not negative.
        title: the chart's accessible title.
        width: pixels.
        height: pixels.

    Returns:
        The ``<svg>`` markup (its text is escaped).
    """
    top = max(values, default=0) or 1
    pad_bottom, pad_top = 22, 14
    plot = height - pad_bottom - pad_top
    slot = width / max(len(values), 1)
    bar = max(slot * 0.7, 1)
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}"'
        f' height="{height}" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]
    every = 1 if len(labels) <= 14 else 2
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        h = plot * value / top
        x = index * slot + (slot - bar) / 2
        y = pad_top + plot - h
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" rx="2">'
            f"<title>{escape(label)}: {value:g}</title></rect>"
        )
        if value:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{y - 3:.1f}" text-anchor="middle"'
                f' class="v">{value:g}</text>'
            )
        if index % every == 0:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{height - 6}" text-anchor="middle"'
                f' class="l">{escape(label)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)
