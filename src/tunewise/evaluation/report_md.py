"""The report as Markdown: the same sections as the HTML page, tables instead of figures."""

from __future__ import annotations

import re
from html import escape

from tunewise.evaluation import report_data as rd

SEE_HTML = "_(figure: see report.html)_"


def _c(v, num: bool = False) -> str:
    """One table cell: HTML-escaped (renderers pass raw HTML through), pipes and newlines made safe."""
    text = rd.fmt(v) if num else str(v)
    return escape(text, quote=False).replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(_c(h) for h in head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return out + [""]


def _na(what: str) -> list[str]:
    return [f"_{_c(what)}: not available_", ""]


def header(r: rd.RunData) -> list[str]:
    labels = rd.label_names(r)
    info = r.info
    out = [
        f"# Run report: {_c(r.path.name)}",
        "",
        f"- status: **{_c(r.status)}**" + (f" ({_c(info['error'])})" if info.get("error") else ""),
        f"- model: {_c(rd.model_name(r))}",
        f"- task: {_c(rd.task_name(r))}",
        f"- labels: {_c(', '.join(labels)) if labels else 'not available'}",
    ]
    out += [f"- {k}: {_c(info[k])}" for k in ("started", "finished", "updated") if info.get(k)]
    tr = (r.metrics or {}).get("training") or {}
    if tr:
        bits = [f"{k.replace('_', ' ')} {rd.fmt(v, 2)}" for k, v in tr.items() if v is not None]
        out.append(f"- training: {_c(', '.join(bits))}")
    out += [f"- note: {_c(n)}" for n in r.notes]
    return out + ["", f"**{_c(rd.headline(r))}**", ""]


def learning_curves(r: rd.RunData) -> list[str]:
    c = rd.curves(r)
    out = ["## Learning curves", ""]
    if not c["loss"] and not c["evals"]:
        return out + _na("train_log.jsonl with train/eval records")
    out += [SEE_HTML, ""]
    if c["loss"]:
        out += [
            f"train loss: {rd.fmt(c['loss'][0][1])} at step {c['loss'][0][0]} → "
            f"{rd.fmt(c['loss'][-1][1])} at step {c['loss'][-1][0]}",
            "",
        ]
    steps = sorted({s for ms in c["evals"].values() for pts in ms.values() for s, _ in pts})
    cols = [(split, k) for split, ms in c["evals"].items() for k in ms]
    if steps:
        lookup = {(sp, k): dict(pts) for sp, ms in c["evals"].items() for k, pts in ms.items()}
        rows = [[_c(s)] + [_c(lookup[col].get(s), num=True) for col in cols] for s in steps]
        out += _table(["step", *(f"{sp} {k}" for sp, k in cols)], rows)
    return out


def test_tables(r: rd.RunData) -> list[str]:
    out = ["## Test set: errors by class", ""]
    test, labels = r.test, rd.label_names(r)
    cm = test.get("confusion_matrix")
    if isinstance(cm, list) and cm and all(isinstance(row, list) for row in cm):
        names = labels if len(labels) == len(cm) else [str(i) for i in range(len(cm))]
        out += ["Confusion matrix (rows gold, columns predicted):", ""]
        out += _table(
            ["gold \\ predicted", *names],
            [[_c(n)] + [_c(v) for v in row] for n, row in zip(names, cm)],
        )
    else:
        out += _na("confusion matrix")
    pc = test.get("per_class") or test.get("per_type")  # per_type: entity types (NER)
    if isinstance(pc, dict) and pc:
        keys = ("precision", "recall", "f1", "support")
        out += _table(
            ["class", *keys],
            [[_c(n)] + [_c((v or {}).get(k), num=True) for k in keys] for n, v in pc.items()],
        )
    else:
        out += _na("per-class scores")
    return out


def calibration(r: rd.RunData) -> list[str]:
    out = ["## Calibration", ""]
    cal = (r.metrics or {}).get("calibration")
    if not isinstance(cal, dict):
        return out + _na("calibration")
    rows = [
        [_c(name)] + [_c(cal[key].get(k), num=True) for k in ("ece", "brier", "nll")]
        for key, name in (("test", "as trained"), ("test_scaled", "temperature-scaled"))
        if isinstance(cal.get(key), dict)
    ]
    out += [SEE_HTML, ""] + _table(["", "ECE", "Brier", "NLL"], rows)
    if cal.get("temperature") is not None:
        out += [f"temperature: {_c(rd.fmt(cal['temperature'], 3))}", ""]
    return out


def lengths(r: rd.RunData) -> list[str]:
    li = rd.length_info(r)
    out = ["## Text lengths", ""]
    if li["histograms"]:
        out += [SEE_HTML, ""]
    scalars = {"max_length": li["max_length"], **li["other"]} if li["max_length"] else li["other"]
    if scalars:
        out += _table(
            ["length check", "value"], [[_c(k), _c(v, num=True)] for k, v in scalars.items()]
        )
    for title, stats in (("doctor", li["splits"]), ("data.json", li["tokens"])):
        keys = list(dict.fromkeys(k for st in stats.values() if isinstance(st, dict) for k in st))
        if keys:
            rows = [
                [_c(s)] + [_c((st or {}).get(k), num=True) for k in keys] for s, st in stats.items()
            ]
            out += _table([f"split ({title})", *keys], rows)
    if len(out) == 2:
        out += _na("length statistics")
    return out


def doctor(r: rd.RunData) -> list[str]:
    out = ["## Data doctor", ""]
    if r.doctor is None:
        return out + _na("doctor.json")
    rows = []
    for f in rd.findings(r):
        status = (
            "ok"
            if f.get("ok")
            else ("error (allowed)" if f["allowed"] else str(f.get("severity", "info")))
        )
        rows.append([_c(status)] + [_c(f.get(k, "")) for k in ("check", "title", "message")])
    out += _table(["status", "check", "finding", "message"], rows) if rows else ["no findings", ""]
    if r.doctor.get("allowed"):
        out += [f"errors allowed by the user: {_c(', '.join(map(str, r.doctor['allowed'])))}", ""]
    return out


def baselines(r: rd.RunData) -> list[str]:
    out = ["## Baselines (test)", ""]
    rows_in = rd.baseline_rows(r)
    if len(rows_in) < 2:
        return out + _na("baselines")
    keys = ("accuracy", "macro_f1")
    rows = []
    for name, m in rows_in:
        margins = ["" if m is r.test else _c(rd.signed(rd.margin(r.test, m, k))) for k in keys]
        rows.append([_c(name)] + [_c(m.get(k), num=True) for k in keys] + margins)
    return out + _table(["", *keys, *(f"model − baseline ({k})" for k in keys)], rows)


def seeds(r: rd.RunData) -> list[str]:
    out = ["## Intervals and seeds", ""]
    ci = r.test.get("ci") if isinstance(r.test.get("ci"), dict) else {}
    if ci:
        out += _table(
            ["test metric", "value", "95% interval"],
            [[_c(k), _c(r.test.get(k), num=True), _c(v, num=True)] for k, v in ci.items()],
        )
        if r.test.get("ci_method"):
            out += [f"intervals: {_c(r.test['ci_method'])}", ""]
    _, summary = rd.seed_summary(r)
    out += [_c(rd.seed_line(r)), ""]
    if not summary:
        return out
    rows = [
        [_c(split), _c(k)] + [_c(s.get(x), num=True) for x in ("mean", "std", "min", "max", "n")]
        for split, ms in summary.items()
        for k, s in (ms or {}).items()
        if isinstance(s, dict)
    ]
    return out + _table(["split", "metric", "mean", "std", "min", "max", "n"], rows)


def checks(r: rd.RunData) -> list[str]:
    out = ["## Checks during and after training", ""]
    cs = (r.metrics or {}).get("checks")
    if not isinstance(cs, dict) or not cs:
        return out + _na("checks")
    rows = []
    for name, c in cs.items():
        c = c if isinstance(c, dict) else {}
        ok = c.get("ok")
        rows.append(
            [
                _c("ok" if ok else "FAIL" if ok is False else "n/a"),
                _c(name),
                _c(c.get("message", "")),
            ]
        )
    return out + _table(["", "check", "message"], rows)


def label_issues(r: rd.RunData) -> list[str]:
    out = [f"## Possible label errors (top {len(r.label_issues)}, least confident first)", ""]
    if not r.label_issues:
        return ["## Possible label errors", "", *_na("label_issues.jsonl")]
    keys = rd.issue_columns(r)
    return out + _table(
        keys,
        [[_c(i.get(k, ""), num=k.endswith("confidence")) for k in keys] for i in r.label_issues],
    )


def config(r: rd.RunData) -> list[str]:
    longest = max((len(m) for m in re.findall(r"`+", r.config_text)), default=0)
    fence = "`" * max(3, longest + 1)
    return ["## Config (config.yaml)", "", f"{fence}yaml", r.config_text.rstrip("\n"), fence, ""]


def render(r: rd.RunData, extra=()) -> str:
    """The whole Markdown document; ``extra``: the task's own sections."""
    parts = [
        header,
        learning_curves,
        test_tables,
        calibration,
        lengths,
        doctor,
        baselines,
        seeds,
        checks,
        label_issues,
        config,
    ]
    lines: list[str] = []
    for p in parts:
        if p is learning_curves:
            for x in extra:
                lines += [f"## {x.title}", "", *x.markdown, ""]
        if p is test_tables and not r.test:
            lines += ["## Test set", "", *_na("test metrics")]
            continue
        lines += p(r)
    return "\n".join(lines).rstrip("\n") + "\n"
