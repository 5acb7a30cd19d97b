"""Server-rendered SVG charts for the dashboard: no JavaScript, no library, readable without colour
(every bar carries its number). Every text put into the SVG goes through `html.escape` first, which
is why these `Markup` calls are safe (S704)."""

from __future__ import annotations

from html import escape

from markupsafe import Markup

PALETTE = ("#2563eb", "#16a34a", "#d97706", "#dc2626", "#7c3aed", "#0891b2", "#65a30d", "#db2777")


def bar_chart(title: str, data: dict[str, float], *, width: int = 460) -> Markup:
    """Horizontal bars, one per key, largest scale = the largest value."""
    rows = [(str(k), float(v)) for k, v in data.items()]
    if not rows:
        return Markup(f'<figure class="chart"><figcaption>{escape(title)}</figcaption><p>—</p></figure>')  # noqa: S704
    bar_h, gap, label_w = 22, 8, 190
    height = len(rows) * (bar_h + gap) + gap
    top = max(v for _, v in rows) or 1.0
    room = width - label_w - 60
    parts = [
        f'<svg role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for i, (name, value) in enumerate(rows):
        y = gap + i * (bar_h + gap)
        length = max(1.0, room * value / top) if value else 0.0
        shown = f"{value:g}"
        parts.append(
            f'<text x="{label_w - 6}" y="{y + bar_h * 0.7:.0f}" text-anchor="end" class="label">'
            f"{escape(name[:28])}</text>"
            f'<rect x="{label_w}" y="{y}" width="{length:.1f}" height="{bar_h}" rx="3" '
            f'fill="{PALETTE[i % len(PALETTE)]}"><title>{escape(name)}: {shown}</title></rect>'
            f'<text x="{label_w + length + 6:.1f}" y="{y + bar_h * 0.7:.0f}" class="value">{shown}</text>'
        )
    parts.append("</svg>")
    return Markup(f'<figure class="chart"><figcaption>{escape(title)}</figcaption>{"".join(parts)}</figure>')  # noqa: S704


def rate_gauge(title: str, rate: float | None, *, width: int = 200) -> Markup:
    """A share as a filled bar with its percentage."""
    if rate is None:
        return Markup(  # noqa: S704
            f'<figure class="chart gauge"><figcaption>{escape(title)}</figcaption><p>—</p></figure>'
        )
    filled = max(0.0, min(1.0, rate)) * (width - 2)
    return Markup(  # noqa: S704
        f'<figure class="chart gauge"><figcaption>{escape(title)}</figcaption>'
        f'<svg role="img" aria-label="{escape(title)} {rate:.1%}" viewBox="0 0 {width} 40" width="{width}" '
        f'height="40" xmlns="http://www.w3.org/2000/svg">'
        f'<rect x="1" y="1" width="{width - 2}" height="20" rx="4" fill="#e5e7eb"/>'
        f'<rect x="1" y="1" width="{filled:.1f}" height="20" rx="4" fill="#2563eb"/>'
        f'<text x="{width / 2:.0f}" y="36" text-anchor="middle" class="value">{rate:.1%}</text>'
        f"</svg></figure>"
    )


def numeric_series(value: object) -> dict[str, float] | None:
    """A flat object of numbers (a chart's data), else None."""
    if not isinstance(value, dict) or not value:
        return None
    out: dict[str, float] = {}
    for k, v in value.items():
        if isinstance(v, bool) or not isinstance(v, int | float):
            return None
        out[str(k)] = float(v)
    return out
