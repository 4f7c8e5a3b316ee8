"""The learning-curve page: inline SVG (log x axis, one line per method, 95% intervals across
draws as bars), the sentence in words, the fits and the table; and its Markdown twin."""

from __future__ import annotations

import math
from html import escape

from tunewise.evaluation.report_svg import PALETTE, _open, nice_ticks


def _x(p: dict) -> float:
    return max(1.0, float(p["train_labels"]))


def log_chart(points: dict, metric: str, title: str, width: int = 560, height: int = 340) -> str:
    """One line per method of ``metric``'s mean vs training labels (log2 x axis), with the
    95% interval across draws drawn as a vertical bar at each budget."""
    xs = [_x(p) for pts in points.values() for p in pts]
    ys = []
    for pts in points.values():
        for p in pts:
            s = p[metric]
            ys += [s["mean"]] + (s["ci95"] or [])
    ys = [y for y in ys if math.isfinite(y)] or [0.0, 1.0]
    lo_x, hi_x = math.log2(min(xs or [1])), math.log2(max(xs or [2]))
    if hi_x <= lo_x:
        lo_x, hi_x = lo_x - 1, hi_x + 1
    lo_y, hi_y = max(0.0, min(ys) - 0.03), min(1.0, max(ys) + 0.03)
    if hi_y <= lo_y:
        lo_y, hi_y = lo_y - 0.05, hi_y + 0.05
    legend_rows = math.ceil(len(points) / 4)
    x0, y0, x1, y1 = 60, 30 + 16 * legend_rows, width - 20, height - 44
    sx = lambda v: x0 + (math.log2(v) - lo_x) / (hi_x - lo_x) * (x1 - x0)  # noqa: E731
    sy = lambda v: y1 - (v - lo_y) / (hi_y - lo_y) * (y1 - y0)  # noqa: E731
    out = _open(width, height, title)
    for t in nice_ticks(lo_y, hi_y):
        out.append(
            f'<line x1="{x0}" x2="{x1}" y1="{sy(t):.1f}" y2="{sy(t):.1f}" stroke="#e5e7eb"/>'
        )
        out.append(f'<text x="{x0 - 5}" y="{sy(t) + 4:.1f}" text-anchor="end">{t:.2f}</text>')
    for e in range(math.floor(lo_x), math.ceil(hi_x) + 1):
        v = 2.0**e
        if lo_x - 1e-9 <= e <= hi_x + 1e-9:
            out.append(
                f'<line x1="{sx(v):.1f}" x2="{sx(v):.1f}" y1="{y1}" y2="{y1 + 4}" stroke="#444"/>'
                f'<text x="{sx(v):.1f}" y="{y1 + 16}" text-anchor="middle">{int(v)}</text>'
            )
    out.append(
        f'<rect x="{x0}" y="{y0}" width="{x1 - x0}" height="{y1 - y0}" fill="none" stroke="#444"/>'
    )
    out.append(
        f'<text x="{(x0 + x1) / 2}" y="{y1 + 34}" text-anchor="middle">'
        "training labels (log scale)</text>"
    )
    out.append(
        f'<text transform="translate(14 {(y0 + y1) / 2}) rotate(-90)" text-anchor="middle">'
        f"{escape(metric)}</text>"
    )
    for i, (m, pts) in enumerate(points.items()):
        color = PALETTE[i % len(PALETTE)]
        lx, ly = 60 + (i % 4) * ((width - 80) / 4), 36 + 16 * (i // 4)
        out.append(
            f'<line x1="{lx:.1f}" x2="{lx + 18:.1f}" y1="{ly}" y2="{ly}" stroke="{color}" '
            f'stroke-width="2"/><text x="{lx + 22:.1f}" y="{ly + 4}">{escape(m)}</text>'
        )
        coords = [(sx(_x(p)), sy(p[metric]["mean"])) for p in pts]
        if len(coords) > 1:
            path = " ".join(f"{a:.1f},{b:.1f}" for a, b in coords)
            out.append(
                f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="1.8"/>'
            )
        for p, (cx, cy) in zip(pts, coords):
            ci = p[metric]["ci95"]
            if ci:
                lo, hi = max(lo_y, ci[0]), min(hi_y, ci[1])
                out.append(
                    f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{sy(lo):.1f}" y2="{sy(hi):.1f}" '
                    f'stroke="{color}" stroke-opacity="0.6" stroke-width="1.2"/>'
                )
            out.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="3" fill="{color}"/>')
    out.append("</svg>")
    return "\n".join(out)


def _table_rows(record: dict) -> list[tuple]:
    rows = []
    for m, pts in record["points"].items():
        for p in pts:
            a, f = p["accuracy"], p["macro_f1"]
            ci = f"{a['ci95'][0]:.3f} to {a['ci95'][1]:.3f}" if a["ci95"] else "-"
            rows.append(
                (m, str(p["budget"]), p["train_labels"], a["mean"], a["std"], ci, f["mean"], a["n"])
            )
    return rows


def _fit_lines(record: dict) -> list[str]:
    lines = []
    for m, f in record["fits"].items():
        if not f:
            lines.append(f"{m}: one budget, no fit")
            continue
        lines.append(
            f"{m}: accuracy = {f['a']:.3f} + {f['b_gain_per_doubling']:.3f} x log2(labels); "
            f"R^2 {f['r2']:.2f}, RMSE {f['rmse']:.3f} over {f['points']} budgets"
            + (" (two points: an exact fit, no evidence of quality)" if f["points"] == 2 else "")
        )
    return lines


def curve_html(record: dict) -> str:
    charts = "".join(
        log_chart(
            record["points"], m, f"test {m} vs training labels (mean, 95% interval across draws)"
        )
        for m in ("accuracy", "macro_f1")
    )
    head = (
        "method",
        "budget",
        "train labels",
        "accuracy",
        "std",
        "95% interval",
        "macro-F1",
        "draws",
    )
    table = "<tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>"
    for r in _table_rows(record):
        cells = [
            r[0],
            r[1],
            str(r[2]),
            f"{r[3]:.3f}",
            f"{r[4]:.3f}",
            r[5],
            f"{r[6]:.3f}",
            str(r[7]),
        ]
        table += "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>"
    fits = "".join(f"<li>{escape(x)}</li>" for x in _fit_lines(record))
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>learning curve</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto}"
        "table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:3px 8px}"
        "</style></head><body>"
        f"<h1>Learning curve: {escape(record['model'])}, {record['test_rows']} test rows</h1>"
        f"<p><b>{escape(record['sentence'])}</b></p>{charts}"
        f"<h2>Learning-curve fits</h2><ul>{fits}</ul><h2>Every budget</h2><table>{table}</table>"
        f"<p>Same draws and the same test rows for every method; {record['draws']} draws per "
        "budget (one for all); intervals are t-intervals of the mean across draws.</p>"
        "</body></html>"
    )


def curve_md(record: dict) -> str:
    lines = [
        f"# Learning curve: {record['model']}, {record['test_rows']} test rows",
        "",
        record["sentence"],
        "",
        "| method | budget | train labels | accuracy | std | 95% interval | macro-F1 | draws |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in _table_rows(record):
        lines.append(
            f"| {r[0]} | {r[1]} | {r[2]} | {r[3]:.3f} | {r[4]:.3f} | {r[5]} | {r[6]:.3f} | {r[7]} |"
        )
    lines += ["", "Fits:", ""] + [f"- {x}" for x in _fit_lines(record)] + [""]
    return "\n".join(lines)
