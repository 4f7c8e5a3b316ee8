"""The report as one self-contained HTML page (inline CSS and SVG; no scripts, fonts or links)."""

from __future__ import annotations

from tunewise.evaluation import report_data as rd
from tunewise.evaluation import report_html_parts as p
from tunewise.evaluation import report_svg as svg

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;background:#f8fafc;color:#111827}
main{max-width:1000px;margin:0 auto;padding:24px}
h1{font-size:1.6em;margin:0 0 4px}h2{font-size:1.2em;margin:0 0 12px}
section{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:16px 20px;margin:16px 0}
.headline{font-size:1.05em;background:#eff6ff;border-left:4px solid #2563eb;padding:8px 12px}
.meta{color:#4b5563}.na{color:#6b7280;font-style:italic}
table{border-collapse:collapse;margin:8px 0;font-size:.92em}
th,td{border:1px solid #e5e7eb;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f3f4f6}td.num{text-align:right;font-variant-numeric:tabular-nums}
.figs{display:flex;flex-wrap:wrap;gap:16px}.figs svg{max-width:100%;height:auto}
tr.sev-error td{background:#fee2e2}tr.sev-warning td{background:#fef3c7}
tr.sev-info td{background:#eff6ff}tr.ok td{background:#f0fdf4}
.badge{display:inline-block;padding:0 6px;border-radius:4px;font-size:.85em;color:#fff}
.b-error{background:#dc2626}.b-warning{background:#d97706}.b-info{background:#2563eb}
.b-ok{background:#16a34a}.b-allowed{background:#6b7280}.b-fail{background:#dc2626}
pre{background:#f3f4f6;padding:12px;overflow:auto;font-size:.85em}
"""


def header(r: rd.RunData) -> str:
    labels = rd.label_names(r)
    info = r.info
    dates = ", ".join(f"{k} {info[k]}" for k in ("started", "finished", "updated") if info.get(k))
    lines = [
        f"<h1>Run report: {p.e(r.path.name)}</h1>",
        f'<p class="meta">status <b>{p.e(r.status)}</b>'
        + (f" ({p.e(info['error'])})" if info.get("error") else "")
        + f" · model <b>{p.e(rd.model_name(r))}</b> · task {p.e(rd.task_name(r))}"
        + (f" · {p.e(dates)}" if dates else "")
        + "</p>",
        f'<p class="meta">labels: {p.e(", ".join(labels)) if labels else "not available"}</p>',
        f'<p class="headline">{p.e(rd.headline(r))}</p>',
    ]
    tr = (r.metrics or {}).get("training") or {}
    if tr:
        bits = [f"{k.replace('_', ' ')} {rd.fmt(v, 2)}" for k, v in tr.items() if v is not None]
        lines.append(f'<p class="meta">training: {p.e(", ".join(bits))}</p>')
    if r.notes:
        lines.append("<ul>" + "".join(f'<li class="na">{p.e(n)}</li>' for n in r.notes) + "</ul>")
    return '<section id="header">' + "\n".join(lines) + "</section>"


def learning_curves(r: rd.RunData) -> str:
    c = rd.curves(r)
    figs = []
    if c["loss"]:
        figs.append(
            svg.line_chart(
                [svg.Series("train loss", c["loss"])],
                title="Training loss",
                x_label="step",
                y_label="loss",
            )
        )
    series = []
    for split, metrics in sorted(c["evals"].items(), key=lambda kv: kv[0] != "dev"):
        for k, pts in metrics.items():
            series.append(svg.Series(f"{split} {k}", pts, dashed=split != "dev", markers=True))
    if series:
        figs.append(
            svg.line_chart(
                series,
                title="Evaluation metrics",
                x_label="step",
                y_label="score",
                y_range=(0.0, 1.0),
            )
        )
    if not figs:
        return p.section(
            "Learning curves", p.na("train_log.jsonl with train/eval records"), "curves"
        )
    note = ""
    if "train" in c["evals"]:
        note = "<p>Dashed lines are the same metrics on the training set; a widening gap above the dev line is overfitting.</p>"
    return p.section("Learning curves", f'<div class="figs">{"".join(figs)}</div>{note}', "curves")


def test_figures(r: rd.RunData) -> str:
    test, labels = r.test, rd.label_names(r)
    parts = []
    cm = test.get("confusion_matrix")
    if isinstance(cm, list) and cm and all(isinstance(row, list) for row in cm):
        names = labels if len(labels) == len(cm) else [str(i) for i in range(len(cm))]
        parts.append(
            svg.heatmap(
                cm,
                names,
                names,
                title="Confusion matrix (test)",
                x_label="predicted",
                y_label="gold",
            )
        )
    else:
        parts.append(p.na("confusion matrix"))
    pc = test.get("per_class") or test.get("per_type")  # per_type: entity types (NER)
    if isinstance(pc, dict) and pc:
        names = list(pc)
        f1 = [(pc[n] or {}).get("f1") for n in names]
        parts.append(svg.bar_chart(names, f1, title="F1 per class (test)", x_label="F1"))
        rows = [
            [p.td(n)]
            + [
                p.td((pc[n] or {}).get(k), num=True)
                for k in ("precision", "recall", "f1", "support")
            ]
            for n in names
        ]
        table = p.table(["class", "precision", "recall", "f1", "support"], rows)
    else:
        parts.append(p.na("per-class scores"))
        table = ""
    return p.section(
        "Test set: errors by class", f'<div class="figs">{"".join(parts)}</div>{table}', "classes"
    )


def calibration(r: rd.RunData) -> str:
    cal = (r.metrics or {}).get("calibration")
    if not isinstance(cal, dict):
        return p.section("Calibration", p.na("calibration"), "calibration")
    series = [svg.Series("perfect", [(0, 0), (1, 1)], color="#9ca3af", dashed=True)]
    rows = []
    for key, name in (("test", "as trained"), ("test_scaled", "temperature-scaled")):
        c = cal.get(key)
        if not isinstance(c, dict):
            continue
        bins = [b for b in c.get("reliability") or [] if isinstance(b, dict) and b.get("count")]
        series.append(
            svg.Series(name, [(b.get("confidence"), b.get("accuracy")) for b in bins], markers=True)
        )
        rows.append([p.td(name)] + [p.td(c.get(k), num=True) for k in ("ece", "brier", "nll")])
    fig = svg.line_chart(
        series,
        title="Reliability (test)",
        x_label="confidence",
        y_label="accuracy",
        x_range=(0.0, 1.0),
        y_range=(0.0, 1.0),
        width=420,
        height=340,
    )
    t = cal.get("temperature")
    body = (
        f'<div class="figs">{fig}<div>{p.table(["", "ECE", "Brier", "NLL"], rows)}'
        + (f"<p>temperature {p.e(rd.fmt(t, 3))}</p>" if t is not None else "")
        + "</div></div>"
    )
    return p.section("Calibration", body, "calibration")


def lengths(r: rd.RunData) -> str:
    li = rd.length_info(r)
    max_len = li["max_length"]
    marker = (float(max_len), f"max_length {max_len}") if max_len is not None else None
    parts = [
        svg.histogram(
            h["edges"],
            h["counts"],
            title="Token lengths" + ("" if split == "all" else f" ({split})"),
            x_label="tokens",
            marker=marker,
        )
        for split, h in li["histograms"].items()
    ]
    bars = rd.length_bars(li) if not parts else []
    if bars:
        top = max([v for _, v in bars] + [max_len or 0]) * 1.08 or 1.0
        parts.append(
            svg.bar_chart(
                [b[0] for b in bars],
                [b[1] for b in bars],
                title="Token lengths",
                x_label="tokens",
                x_range=(0.0, top),
                digits=0,
                marker=marker,
            )
        )
    body = f'<div class="figs">{"".join(parts)}</div>' if parts else ""
    scalars = {"max_length": max_len, **li["other"]} if max_len is not None else li["other"]
    if scalars:
        rows = [[p.td(k), p.td(v, num=True)] for k, v in scalars.items()]
        body += p.table(["length check", "value"], rows)
    for title, stats in (("doctor", li["splits"]), ("data.json", li["tokens"])):
        keys = list(dict.fromkeys(k for st in stats.values() if isinstance(st, dict) for k in st))
        if keys:
            rows = [
                [p.td(s)] + [p.td((st or {}).get(k), num=True) for k in keys]
                for s, st in stats.items()
            ]
            body += p.table([f"split ({title})", *keys], rows)
    return p.section("Text lengths", body or p.na("length statistics"), "lengths")


def render(r: rd.RunData, extra=()) -> str:
    """The whole page; ``extra``: the task's own sections (``Task.report_sections``)."""
    sections = [
        header(r),
        *(p.section(x.title, x.html, x.anchor or f"task-{i}") for i, x in enumerate(extra)),
        learning_curves(r),
        test_figures(r) if r.test else p.section("Test set", p.na("test metrics"), "classes"),
        calibration(r),
        lengths(r),
        p.doctor(r),
        p.baselines(r),
        p.seeds(r),
        p.checks(r),
        p.label_issues(r),
        p.config(r),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        # An empty data: icon keeps the browser from asking for /favicon.ico.
        '<link rel="icon" href="data:,">'
        f"<title>tunewise report: {p.e(r.path.name)}</title><style>{CSS}</style></head>"
        "<body><main>\n" + "\n".join(sections) + "\n</main></body></html>\n"
    )
