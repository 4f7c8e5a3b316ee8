"""HTML building blocks of the report and its table-only sections (doctor, baselines, seeds,
checks, label issues, config). Every user-provided string goes through ``e``."""

from __future__ import annotations

from html import escape

from tunewise.evaluation import report_data as rd


def e(v) -> str:
    return escape(str(v), quote=True)


def table(head: list[str], rows: list[list[str]], classes: list[str] | None = None) -> str:
    """``rows`` cells are already HTML; header cells are escaped here."""
    out = ["<table><thead><tr>", *(f"<th>{e(h)}</th>" for h in head), "</tr></thead><tbody>"]
    for i, row in enumerate(rows):
        cls = f' class="{classes[i]}"' if classes and classes[i] else ""
        out.append(f"<tr{cls}>" + "".join(row) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def td(v, num: bool = False) -> str:
    text = rd.fmt(v) if num else str(v)
    return f'<td class="num">{e(text)}</td>' if num else f"<td>{e(text)}</td>"


def section(title: str, body: str, sid: str) -> str:
    return f'<section id="{sid}"><h2>{e(title)}</h2>\n{body}\n</section>'


def na(what: str) -> str:
    return f'<p class="na">{e(what)}: not available</p>'


def doctor(r: rd.RunData) -> str:
    rows, classes = [], []
    for f in rd.findings(r):
        sev = str(f.get("severity", "info"))
        status = "ok" if f.get("ok") else ("allowed" if f["allowed"] else sev)
        badge = f'<span class="badge b-{e(status)}">{e(status)}</span>'
        rows.append(
            [
                f"<td>{badge}</td>",
                td(f.get("check", "")),
                td(f.get("title", "")),
                td(f.get("message", "")),
            ]
        )
        classes.append("ok" if f.get("ok") else f"sev-{e(sev)}")
    if r.doctor is None:
        return section("Data doctor", na("doctor.json"), "doctor")
    body = (
        table(["", "check", "finding", "message"], rows, classes) if rows else "<p>no findings</p>"
    )
    allowed = r.doctor.get("allowed") or []
    if allowed:
        body += f"<p>errors allowed by the user: {e(', '.join(map(str, allowed)))}</p>"
    return section("Data doctor", body, "doctor")


def baselines(r: rd.RunData) -> str:
    rows_in = rd.baseline_rows(r)
    if len(rows_in) < 2:
        return section("Baselines", na("baselines"), "baselines")
    keys = ("accuracy", "macro_f1")
    rows = []
    for name, m in rows_in:
        cells = [td(name)] + [td(m.get(k), num=True) for k in keys]
        cells += [td(rd.signed(rd.margin(r.test, m, k)) if m is not r.test else "") for k in keys]
        rows.append(cells)
    head = ["", *keys, *(f"model − baseline ({k})" for k in keys)]
    return section("Baselines (test)", table(head, rows), "baselines")


def seeds(r: rd.RunData) -> str:
    ci = r.test.get("ci") if isinstance(r.test.get("ci"), dict) else {}
    _, summary = rd.seed_summary(r)
    body = ""
    if ci:
        rows = [[td(k), td(r.test.get(k), num=True), td(v, num=True)] for k, v in ci.items()]
        body += table(["test metric", "value", "95% interval"], rows)
        if r.test.get("ci_method"):
            body += f"<p>intervals: {e(r.test['ci_method'])}</p>"
    body += f"<p>{e(rd.seed_line(r))}</p>"
    if summary:
        rows = []
        for split, ms in summary.items():
            for k, s in (ms or {}).items():
                if isinstance(s, dict):
                    rows.append(
                        [td(split), td(k)]
                        + [td(s.get(x), num=True) for x in ("mean", "std", "min", "max", "n")]
                    )
        body += table(["split", "metric", "mean", "std", "min", "max", "n"], rows)
    return section("Intervals and seeds", body, "seeds")


def checks(r: rd.RunData) -> str:
    cs = (r.metrics or {}).get("checks")
    if not isinstance(cs, dict) or not cs:
        return section("Checks during and after training", na("checks"), "checks")
    rows, classes = [], []
    for name, c in cs.items():
        c = c if isinstance(c, dict) else {}
        ok = c.get("ok")
        status = "ok" if ok else ("fail" if ok is False else "n/a")
        rows.append(
            [
                f'<td><span class="badge b-{status}">{status}</span></td>',
                td(name),
                td(c.get("message", "")),
            ]
        )
        classes.append("ok" if ok else "sev-error" if ok is False else "")
    return section(
        "Checks during and after training",
        table(["", "check", "message"], rows, classes),
        "checks",
    )


def label_issues(r: rd.RunData) -> str:
    if not r.label_issues:
        return section("Possible label errors", na("label_issues.jsonl"), "label-issues")
    keys = rd.issue_columns(r)
    rows = [[td(i.get(k, ""), num=k.endswith("confidence")) for k in keys] for i in r.label_issues]
    return section(
        f"Possible label errors (top {len(rows)}, least confident first)",
        table(keys, rows),
        "label-issues",
    )


def config(r: rd.RunData) -> str:
    return section("Config (config.yaml)", f"<pre>{e(r.config_text)}</pre>", "config")
