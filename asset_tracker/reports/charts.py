"""Charts drawn on the server as inline SVG: a title and description for screen readers, direct labels on
every bar and hatching for a second series, so no figure is told by colour alone."""
from __future__ import annotations

import itertools
from xml.sax.saxutils import escape, quoteattr

from markupsafe import Markup

_ids = itertools.count(1)
INK = "#1F2A44"
MUTED = "#5A6275"
PRIMARY = "#1D4E89"


def _t(value) -> str:
    return escape(str(value))


def _open(width: int, height: int, title: str, desc: str) -> tuple[list[str], str]:
    uid = f"chart{next(_ids)}"
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
             f'width="100%" role="img" aria-labelledby="{uid}-t {uid}-d" preserveAspectRatio="xMinYMin meet">',
             f'<title id="{uid}-t">{_t(title)}</title><desc id="{uid}-d">{_t(desc)}</desc>',
             f'<defs><pattern id="{uid}-hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
             f'patternTransform="rotate(45)"><rect width="6" height="6" fill="#FFFFFF"/>'
             f'<line x1="0" y1="0" x2="0" y2="6" stroke="{PRIMARY}" stroke-width="3"/></pattern></defs>']
    return parts, uid


def hbars(title: str, desc: str, items: list[tuple[str, float, str]], *, fmt=lambda v: f"{v:,}".replace(",", "\u202f"),
          label_width: int = 190, width: int = 640) -> Markup:
    """Horizontal bars: (label, value, fill colour); the label on the left and the value at the bar's end."""
    bar_h, gap, top = 22, 8, 6
    height = top * 2 + len(items) * (bar_h + gap)
    parts, _ = _open(width, max(height, 40), title, desc)
    top_value = max([v for _, v, _ in items] + [0]) or 1
    span = width - label_width - 70
    for i, (label, value, colour) in enumerate(items):
        y = top + i * (bar_h + gap)
        w = 0 if not value else max(2, round(span * value / top_value))
        parts.append(f'<text x="{label_width - 8}" y="{y + bar_h * 0.7:.1f}" text-anchor="end" '
                     f'font-size="13" fill="{INK}">{_t(label)}</text>')
        parts.append(f'<rect x="{label_width}" y="{y}" width="{w}" height="{bar_h}" fill={quoteattr(colour)} '
                     f'stroke="{INK}" stroke-width="0.75"/>')
        parts.append(f'<text x="{label_width + w + 6}" y="{y + bar_h * 0.7:.1f}" font-size="13" font-weight="bold" '
                     f'fill="{INK}">{_t(fmt(value))}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def paired_hbars(title: str, desc: str, rows: list[tuple[str, float | None, float | None]], names: tuple[str, str],
                 *, unit: str, label_width: int = 190, width: int = 640, fmt=lambda v: f"{v:g}") -> Markup:
    """Two bars per row (e.g. median, solid; 90th percentile, hatched), each with its value written next to it."""
    bar_h, gap, top = 14, 12, 30
    height = top + len(rows) * (2 * bar_h + gap) + 6
    parts, uid = _open(width, height, title, desc)
    values = [v for _, a, b in rows for v in (a, b) if v is not None]
    top_value = max(values + [0]) or 1
    span = width - label_width - 90
    # Legend: the pattern and the name, written out.
    parts.append(f'<rect x="{label_width}" y="6" width="14" height="14" fill="{PRIMARY}"/>'
                 f'<text x="{label_width + 20}" y="18" font-size="12" fill="{INK}">{_t(names[0])}</text>'
                 f'<rect x="{label_width + 170}" y="6" width="14" height="14" fill="url(#{uid}-hatch)" '
                 f'stroke="{PRIMARY}"/><text x="{label_width + 190}" y="18" font-size="12" fill="{INK}">'
                 f'{_t(names[1])}</text>')
    for i, (label, a, b) in enumerate(rows):
        y = top + i * (2 * bar_h + gap)
        parts.append(f'<text x="{label_width - 8}" y="{y + bar_h + 4}" text-anchor="end" font-size="13" '
                     f'fill="{INK}">{_t(label)}</text>')
        for j, (value, fill) in enumerate(((a, PRIMARY), (b, f"url(#{uid}-hatch)"))):
            yy = y + j * bar_h
            w = 0 if not value else max(2, round(span * value / top_value))
            text = "—" if value is None else f"{fmt(value)}\u00a0{unit}"
            parts.append(f'<rect x="{label_width}" y="{yy}" width="{w}" height="{bar_h - 2}" fill="{fill}" '
                         f'stroke="{PRIMARY}" stroke-width="0.75"/>')
            parts.append(f'<text x="{label_width + w + 6}" y="{yy + bar_h - 4}" font-size="11" fill="{INK}">'
                         f'{_t(text)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def columns(title: str, desc: str, categories: list[str], series: list[tuple[str, list[int]]], *,
            width: int = 640, height: int = 240) -> Markup:
    """Grouped columns per category (weeks), up to two series: the first solid, the second hatched; values on top."""
    parts, uid = _open(width, height, title, desc)
    left, bottom, top = 30, 40, 34
    plot_h = height - bottom - top
    group_w = (width - left - 10) / max(len(categories), 1)
    bar_w = max(4, (group_w - 8) / max(len(series), 1))
    top_value = max([v for _, vs in series for v in vs] + [0]) or 1
    fills = [PRIMARY, f"url(#{uid}-hatch)"]
    x = left
    for j, (name, _) in enumerate(series):
        parts.append(f'<rect x="{x}" y="6" width="14" height="14" fill="{fills[j % 2]}" stroke="{PRIMARY}"/>'
                     f'<text x="{x + 20}" y="18" font-size="12" fill="{INK}">{_t(name)}</text>')
        x += 200
    parts.append(
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - 10}" y2="{height - bottom}" stroke="{MUTED}"/>'
    )
    for i, cat in enumerate(categories):
        gx = left + i * group_w + 4
        for j, (_, values) in enumerate(series):
            v = values[i]
            h = 0 if not v else max(1, round(plot_h * v / top_value))
            bx = gx + j * bar_w
            parts.append(f'<rect x="{bx:.1f}" y="{height - bottom - h}" width="{bar_w - 1:.1f}" height="{h}" '
                         f'fill="{fills[j % 2]}" stroke="{PRIMARY}" stroke-width="0.75"/>')
            parts.append(f'<text x="{bx + (bar_w - 1) / 2:.1f}" y="{height - bottom - h - 3}" font-size="10" '
                         f'text-anchor="middle" fill="{INK}">{v}</text>')
        parts.append(f'<text x="{gx + group_w / 2 - 4:.1f}" y="{height - bottom + 16}" font-size="11" '
                     f'text-anchor="middle" fill="{MUTED}">{_t(cat)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def progress_bars(title: str, desc: str, rows: list[tuple[str, int, int, str]], *, width: int = 640) -> Markup:
    """One bar per programme: its full name above, done out of target, "done / target (percent)" after the bar.

    The name has a line of its own: a long programme name is never clipped at the chart's edge.
    """
    label_h, bar_h, gap, top = 18, 20, 14, 6
    row_h = label_h + bar_h + gap
    height = top * 2 + len(rows) * row_h
    parts, _ = _open(width, max(height, 40), title, desc)
    span = width - 170
    for i, (label, done, target, caption) in enumerate(rows):
        y = top + i * row_h
        share = min(1.0, done / target) if target else 0
        parts.append(f'<text x="0" y="{y + 13}" font-size="13" fill="{INK}">{_t(label)}</text>')
        y += label_h
        parts.append(f'<rect x="0" y="{y}" width="{span}" height="{bar_h}" fill="#FFFFFF" '
                     f'stroke="{INK}" stroke-width="0.75"/>')
        parts.append(f'<rect x="0" y="{y}" width="{round(span * share)}" height="{bar_h}" fill="#1E7A3C"/>')
        parts.append(f'<text x="{span + 8}" y="{y + bar_h * 0.7:.1f}" font-size="13" '
                     f'font-weight="bold" fill="{INK}">{_t(caption)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
