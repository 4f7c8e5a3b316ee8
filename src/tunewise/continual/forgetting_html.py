"""The forgetting report as one self-contained HTML page: the matrix as a heatmap (task not
given and task given) and the measures with their intervals."""

from __future__ import annotations

import html


def _color(v: float | None) -> str:
    if v is None:
        return "#f4f4f4"
    # white (0) -> blue (1)
    r = g = int(255 - 200 * v)
    return f"rgb({r},{g},255)"


def _heatmap(f: dict, key: str, title: str) -> str:
    head = "".join(f"<th>{html.escape(t)}</th>" for t in f["tests"])
    rows = []
    for stage, row in zip(f["stages"], f[key]):
        label = html.escape(f"after {stage['task']} ({stage['strategy'] or 'from scratch'})")
        tds = "".join(
            f'<td style="background:{_color(v)}">{"" if v is None else f"{v:.3f}"}</td>'
            for v in row
        )
        rows.append(f"<tr><th>{label}</th>{tds}</tr>")
    return f"<h2>{html.escape(title)}</h2><table><tr><th></th>{head}</tr>{''.join(rows)}</table>"


def _measures(f: dict) -> str:
    rows = []
    for key in ("average_accuracy", "bwt", "forgetting", "fwt"):
        if key in f:
            v, g = f[key], f["task_given"][key]
            rows.append(
                f"<tr><th>{key}</th><td>{v['value']:+.3f} [{v['low']:+.3f}, {v['high']:+.3f}]</td>"
                f"<td>{g['value']:+.3f} [{g['low']:+.3f}, {g['high']:+.3f}]</td></tr>"
            )
    router = (
        f"<p>Router accuracy (which task an input belongs to): {f['router']['accuracy']:.3f}</p>"
        if "router" in f
        else ""
    )
    return (
        "<h2>Measures (95% paired bootstrap intervals)</h2><table><tr><th></th>"
        "<th>task not given</th><th>task given</th></tr>" + "".join(rows) + "</table>" + router
    )


def render(f: dict) -> str:
    style = (
        "body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}th{background:#fafafa}"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>forgetting</title>"
        f"<style>{style}</style></head><body><h1>Forgetting: {html.escape(f['run'])}</h1>"
        "<p>Rows: after each stage; columns: each stage's test set, in lineage order. "
        "Above the diagonal only the cell before a stage trained is measured (forward transfer).</p>"
        + _heatmap(f, "matrix", "Accuracy, task not given (every label competes)")
        + _heatmap(f, "matrix_task_given", "Accuracy, task given")
        + _measures(f)
        + "</body></html>"
    )
