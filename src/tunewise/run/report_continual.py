"""The continual-learning section of a continued run's report: the forgetting matrix as a
heatmap (task not given and task given) and its measures with intervals, read from
``metrics.json`` (``continual.forgetting``, written by ``tunewise.continual``)."""

from __future__ import annotations

from html import escape

from tunewise.tasks.base import Section

MEASURES = ("average_accuracy", "bwt", "forgetting", "fwt")


def _fmt(v: dict) -> str:
    return f"{v['value']:+.3f} [{v['low']:+.3f}, {v['high']:+.3f}]"


def continual_sections(run_data) -> list[Section]:
    """One section when the run is a continued one with a forgetting record; else none."""
    from tunewise.evaluation import report_svg as svg

    f = ((run_data.metrics or {}).get("continual") or {}).get("forgetting")
    if not isinstance(f, dict) or not f.get("matrix"):
        return []
    tests = list(f["tests"])
    rows = [f"after {s['task']} ({s['strategy'] or 'from scratch'})" for s in f["stages"]]

    def grid(key: str) -> list[list]:
        # a cell not measured (above the diagonal, beyond the next stage) stays blank
        return [["" if v is None else v for v in row] for row in f[key]]

    figs = "".join(
        svg.heatmap(grid(key), rows, tests, title=title, x_label="test set", y_label="stage")
        for key, title in (
            ("matrix", "Accuracy, task not given"),
            ("matrix_task_given", "Accuracy, task given"),
        )
    )
    given = f.get("task_given") or {}
    table = [
        (k, _fmt(f[k]), _fmt(given[k]) if k in given else "")
        for k in MEASURES
        if k in f and isinstance(f[k], dict)
    ]
    router = f.get("router") or {}
    html = (
        f'<div class="figs">{figs}</div>'
        "<p>Rows: after each stage; columns: each stage's test set, lineage order. Above the "
        "diagonal only the cell before a stage trained is measured (forward transfer).</p>"
        "<table><tr><th>measure (95% paired bootstrap)</th><th>task not given</th>"
        "<th>task given</th></tr>"
        + "".join(
            f'<tr><td>{escape(k)}</td><td class="num">{a}</td><td class="num">{b}</td></tr>'
            for k, a, b in table
        )
        + "</table>"
        + (
            f"<p>Router accuracy (which task an input is): {router['accuracy']:.3f}</p>"
            if "accuracy" in router
            else ""
        )
    )
    md = ["| stage | " + " | ".join(tests) + " |", "|---|" + "---|" * len(tests)]
    for name, row in zip(rows, f["matrix"]):
        md.append(f"| {name} | " + " | ".join("" if v is None else f"{v:.3f}" for v in row) + " |")
    md += ["", "| measure | task not given | task given |", "|---|---|---|"]
    md += [f"| {k} | {a} | {b} |" for k, a, b in table]
    if "accuracy" in router:
        md += ["", f"Router accuracy (which task an input is): {router['accuracy']:.3f}"]
    return [Section("Continual learning: what each stage cost", md, html, "continual")]
