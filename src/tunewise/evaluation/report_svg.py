"""Small inline-SVG charts for the report: line chart, horizontal bars, heatmap, histogram.

Each function returns one ``<svg>`` element as a string, with every piece of text escaped,
a fixed ``viewBox`` (the page scales it) and no scripts, web fonts or external references, so the
report stays one self-contained file that renders the same offline.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from html import escape

PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#4b5563")
_FONT = 'font-family="system-ui, sans-serif" font-size="11"'


@dataclass
class Series:
    """One line of a line chart: ``points`` are (x, y); missing/non-finite y values are dropped."""

    name: str
    points: list[tuple[float, float]] = field(default_factory=list)
    color: str | None = None
    dashed: bool = False
    markers: bool = False


def _num(v: float) -> str:
    return f"{v:.2f}".rstrip("0").rstrip(".")


def _label(v: float) -> str:
    if v != 0 and (abs(v) >= 10_000 or abs(v) < 0.001):
        return f"{v:.1e}"
    return f"{v:.4g}"


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round tick values covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / max(n, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    return [round(first + i * step, 12) for i in range(int((hi - first) / step + 1e-9) + 1)]


def _open(width: int, height: int, title: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" {_FONT}>',
        f"<title>{escape(title)}</title>",
        f'<text x="{width / 2}" y="16" text-anchor="middle" font-size="13" '
        f'font-weight="600">{escape(title)}</text>',
    ]


def _span(values: list[float], given: tuple[float, float] | None) -> tuple[float, float]:
    if given is not None:
        return given
    finite = [v for v in values if math.isfinite(v)] or [0.0, 1.0]
    lo, hi = min(finite), max(finite)
    if hi == lo:
        lo, hi = lo - 0.5, hi + 0.5
    return lo, hi


def _axes(out, box, xr, yr, x_label, y_label) -> None:
    """Frame, grid lines, tick labels and axis titles for a plot area ``box`` = (x0, y0, x1, y1)."""
    x0, y0, x1, y1 = box
    sx = lambda v: x0 + (v - xr[0]) / (xr[1] - xr[0]) * (x1 - x0)  # noqa: E731
    sy = lambda v: y1 - (v - yr[0]) / (yr[1] - yr[0]) * (y1 - y0)  # noqa: E731
    for t in nice_ticks(*yr):
        y = sy(t)
        out.append(f'<line x1="{x0}" x2="{x1}" y1="{_num(y)}" y2="{_num(y)}" stroke="#e5e7eb"/>')
        out.append(
            f'<text x="{x0 - 5}" y="{_num(y + 4)}" text-anchor="end">{escape(_label(t))}</text>'
        )
    for t in nice_ticks(*xr, n=6):
        x = _num(sx(t))
        out.append(f'<line x1="{x}" x2="{x}" y1="{y1}" y2="{y1 + 4}" stroke="#444"/>')
        out.append(f'<text x="{x}" y="{y1 + 16}" text-anchor="middle">{escape(_label(t))}</text>')
    out.append(
        f'<rect x="{x0}" y="{y0}" width="{x1 - x0}" height="{y1 - y0}" fill="none" stroke="#444"/>'
    )
    out.append(
        f'<text x="{(x0 + x1) / 2}" y="{y1 + 32}" text-anchor="middle">{escape(x_label)}</text>'
    )
    out.append(
        f'<text transform="translate(14 {(y0 + y1) / 2}) rotate(-90)" text-anchor="middle">'
        f"{escape(y_label)}</text>"
    )


def line_chart(
    series: list[Series],
    *,
    title: str,
    x_label: str = "",
    y_label: str = "",
    x_range: tuple[float, float] | None = None,
    y_range: tuple[float, float] | None = None,
    width: int = 470,
    height: int = 300,
) -> str:
    """Several (x, y) series on shared axes, with a legend under the title."""
    series = [
        replace(s, points=[(float(x), float(y)) for x, y in s.points if _finite(x) and _finite(y)])
        for s in series
    ]
    xs = [x for s in series for x, _ in s.points]
    ys = [y for s in series for _, y in s.points]
    xr, yr = _span(xs, x_range), _span(ys, y_range)
    legend_rows = math.ceil(len(series) / 3)
    box = (60, 28 + 16 * legend_rows, width - 16, height - 40)
    out = _open(width, height, title)
    for i, s in enumerate(series):
        color = s.color or PALETTE[i % len(PALETTE)]
        lx, ly = 60 + (i % 3) * ((width - 76) / 3), 34 + 16 * (i // 3)
        dash = ' stroke-dasharray="5 3"' if s.dashed else ""
        out.append(
            f'<line x1="{_num(lx)}" x2="{_num(lx + 18)}" y1="{ly}" y2="{ly}" stroke="{color}" '
            f'stroke-width="2"{dash}/><text x="{_num(lx + 22)}" y="{ly + 4}">{escape(s.name)}</text>'
        )
    _axes(out, box, xr, yr, x_label, y_label)
    x0, y0, x1, y1 = box
    for i, s in enumerate(series):
        color = s.color or PALETTE[i % len(PALETTE)]
        pts = [
            (
                x0 + (x - xr[0]) / (xr[1] - xr[0]) * (x1 - x0),
                y1 - (y - yr[0]) / (yr[1] - yr[0]) * (y1 - y0),
            )
            for x, y in s.points
        ]
        dash = ' stroke-dasharray="5 3"' if s.dashed else ""
        if len(pts) > 1:
            path = " ".join(f"{_num(x)},{_num(y)}" for x, y in pts)
            out.append(
                f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="1.8"{dash}/>'
            )
        if s.markers or len(pts) == 1:
            out.extend(
                f'<circle cx="{_num(x)}" cy="{_num(y)}" r="3" fill="{color}"/>' for x, y in pts
            )
    out.append("</svg>")
    return "\n".join(out)


def _finite(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _short(text: str, n: int = 16) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def bar_chart(
    labels: list[str],
    values: list[float],
    *,
    title: str,
    x_label: str = "",
    x_range: tuple[float, float] = (0.0, 1.0),
    digits: int = 3,
    marker: tuple[float, str] | None = None,
    width: int = 470,
) -> str:
    """Horizontal bars, one per label, with the value printed at the end of each bar."""
    row = 22
    height = 60 + row * len(labels)
    box = (130, 30, width - 50, 30 + row * len(labels))
    out = _open(width, height, title)
    x0, y0, x1, y1 = box
    span = x_range[1] - x_range[0] or 1.0
    for t in nice_ticks(*x_range):
        x = x0 + (t - x_range[0]) / span * (x1 - x0)
        out.append(f'<line x1="{_num(x)}" x2="{_num(x)}" y1="{y0}" y2="{y1}" stroke="#e5e7eb"/>')
        out.append(f'<text x="{_num(x)}" y="{y1 + 14}" text-anchor="middle">{_label(t)}</text>')
    for i, (name, v) in enumerate(zip(labels, values)):
        y = y0 + i * row
        ok = _finite(v)
        w = max(0.0, (min(v, x_range[1]) - x_range[0]) / span * (x1 - x0)) if ok else 0.0
        out.append(
            f'<text x="{x0 - 6}" y="{y + 15}" text-anchor="end"><title>{escape(str(name))}</title>'
            f"{escape(_short(str(name)))}</text>"
        )
        out.append(
            f'<rect x="{x0}" y="{y + 4}" width="{_num(w)}" height="{row - 8}" fill="{PALETTE[0]}"/>'
        )
        text = f"{v:.{digits}f}" if ok else "n/a"
        out.append(f'<text x="{_num(x0 + w + 4)}" y="{y + 15}">{text}</text>')
    out.append(f'<line x1="{x0}" x2="{x0}" y1="{y0}" y2="{y1}" stroke="#444"/>')
    if marker and _finite(marker[0]):
        out.append(_marker(x0 + (marker[0] - x_range[0]) / span * (x1 - x0), y0, y1, marker[1]))
    out.append(
        f'<text x="{(x0 + x1) / 2}" y="{y1 + 28}" text-anchor="middle">{escape(x_label)}</text>'
    )
    out.append("</svg>")
    return "\n".join(out)


def heatmap(
    matrix: list[list[float]],
    row_labels: list[str],
    col_labels: list[str],
    *,
    title: str,
    x_label: str = "",
    y_label: str = "",
) -> str:
    """A grid of cells shaded by their share of the row, with the raw value written in each."""
    n_rows, n_cols = len(matrix), max((len(r) for r in matrix), default=0)
    cell = max(18, min(56, 480 // max(n_cols, 1)))
    left, top = 140, 40
    width, height = left + cell * n_cols + 20, top + cell * n_rows + 110
    out = _open(width, height, title)
    show_numbers = cell >= 26
    for i, r in enumerate(matrix):
        total = sum(v for v in r if _finite(v)) or 1
        name = str(row_labels[i]) if i < len(row_labels) else str(i)
        out.append(
            f'<text x="{left - 6}" y="{top + i * cell + cell / 2 + 4}" text-anchor="end">'
            f"<title>{escape(name)}</title>{escape(_short(name))}</text>"
        )
        for j, v in enumerate(r):
            share = v / total if _finite(v) else 0.0
            shade = round(255 - 200 * share)
            fill = f"rgb({shade},{round(255 - 150 * share)},255)"
            x, y = left + j * cell, top + i * cell
            out.append(
                f'<rect x="{x}" y="{y}" width="{cell}" height="{cell}" fill="{fill}" stroke="#fff">'
                f"<title>{escape(name)} → {escape(str(col_labels[j]) if j < len(col_labels) else str(j))}: {escape(str(v))}</title></rect>"
            )
            if show_numbers:
                color = "#fff" if share > 0.6 else "#111"
                out.append(
                    f'<text x="{x + cell / 2}" y="{y + cell / 2 + 4}" text-anchor="middle" '
                    f'fill="{color}">{escape(_label(v) if _finite(v) else str(v))}</text>'
                )
    base = top + n_rows * cell
    for j in range(n_cols):
        name = str(col_labels[j]) if j < len(col_labels) else str(j)
        x = left + j * cell + cell / 2
        out.append(
            f'<text transform="translate({x + 4} {base + 8}) rotate(-50)" text-anchor="end">'
            f"<title>{escape(name)}</title>{escape(_short(name, 12))}</text>"
        )
    out.append(
        f'<text x="{left + n_cols * cell / 2}" y="{height - 6}" text-anchor="middle">{escape(x_label)}</text>'
    )
    out.append(
        f'<text transform="translate(14 {top + n_rows * cell / 2}) rotate(-90)" '
        f'text-anchor="middle">{escape(y_label)}</text>'
    )
    out.append("</svg>")
    return "\n".join(out)


def histogram(
    edges: list[float],
    counts: list[float],
    *,
    title: str,
    x_label: str = "",
    y_label: str = "count",
    marker: tuple[float, str] | None = None,
    width: int = 470,
    height: int = 280,
) -> str:
    """Adjacent bars between ``edges`` (len(counts) + 1 values), optionally a labeled vertical line."""
    xr = _span([float(e) for e in edges] + ([marker[0]] if marker else []), None)
    yr = (0.0, max([float(c) for c in counts if _finite(c)] or [1.0]) * 1.08 or 1.0)
    box = (60, 30, width - 16, height - 40)
    out = _open(width, height, title)
    _axes(out, box, xr, yr, x_label, y_label)
    x0, y0, x1, y1 = box
    sx = lambda v: x0 + (v - xr[0]) / (xr[1] - xr[0]) * (x1 - x0)  # noqa: E731
    for lo, hi, c in zip(edges, edges[1:], counts):
        if not _finite(c):
            continue
        h = c / yr[1] * (y1 - y0)
        out.append(
            f'<rect x="{_num(sx(lo))}" y="{_num(y1 - h)}" width="{_num(max(sx(hi) - sx(lo) - 1, 0.5))}" '
            f'height="{_num(h)}" fill="{PALETTE[0]}"><title>{_label(lo)}–{_label(hi)}: '
            f"{_label(c)}</title></rect>"
        )
    if marker and _finite(marker[0]):
        out.append(_marker(sx(marker[0]), y0, y1, marker[1]))
    out.append("</svg>")
    return "\n".join(out)


def _marker(x: float, y0: float, y1: float, label: str) -> str:
    """A dashed vertical line with a label (e.g. max_length on a length chart)."""
    return (
        f'<line x1="{_num(x)}" x2="{_num(x)}" y1="{y0}" y2="{y1}" stroke="{PALETTE[1]}" '
        f'stroke-dasharray="5 3" stroke-width="2"/><text x="{_num(x - 4)}" y="{y0 + 12}" '
        f'text-anchor="end" fill="{PALETTE[1]}">{escape(label)}</text>'
    )
