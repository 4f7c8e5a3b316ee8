"""The terminal summary of a classification run (or an evaluation): tables per split."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tunewise.console import make_console
from tunewise.tasks.summary import print_checks_and_training, print_seeds

_KEYS = ("accuracy", "macro_f1", "micro_f1", "mcc")


def _cell(m: dict, k: str) -> str:
    ci = m.get("ci", {}).get(k)
    return f"{m[k]:.4f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")


def print_metrics(metrics: dict, console: Console | None = None) -> None:
    """Metrics per split (with 95% intervals) next to the baselines, per-class scores, seeds,
    calibration and the checks that failed."""
    console = console or make_console(soft_wrap=True)
    t = Table("", "n", *_KEYS, title="metrics over whole splits (test with bootstrap 95% interval)")
    rows = [(s, metrics[s]) for s in ("dev", "test") if s in metrics]
    for name, b in metrics.get("baselines", {}).items():
        what = f", always {b['predicts']!r}" if "predicts" in b else ""
        rows.append((f"baseline: {name} (test{what})", b))
    for name, m in rows:
        t.add_row(name, str(m.get("n", "")), *(_cell(m, k) for k in _KEYS))
    console.print(t)
    split = "test" if "test" in metrics else "dev" if "dev" in metrics else None
    if split and metrics[split].get("per_class"):
        pc = Table("class", "precision", "recall", "f1", "support", title=f"per class ({split})")
        for label, v in metrics[split]["per_class"].items():
            pc.add_row(
                label,
                f"{v['precision']:.4f}",
                f"{v['recall']:.4f}",
                f"{v['f1']:.4f}",
                str(v["support"]),
            )
        console.print(pc)
    print_seeds(metrics, console, _KEYS)
    cal = metrics.get("calibration")
    if cal:
        console.print(
            f"calibration (test): ECE {cal['test']['ece']:.4f}, Brier {cal['test']['brier']:.4f}; "
            f"with temperature {cal['temperature']:.2f} fitted on dev: ECE {cal['test_scaled']['ece']:.4f}"
            + (f" ({escape(cal['decision'])})" if cal.get("decision") else "")
        )
    ab = metrics.get("abstain")
    if ab:
        _print_abstain(ab, console)
    print_checks_and_training(metrics, console, shown=("baselines", "label_issues"))


def _print_abstain(ab: dict, console: Console) -> None:
    """One line per split of the abstaining classifier, with the intervals."""
    fig = _fig

    console.print(
        f"abstention: score {ab['score']} ({escape(ab['chosen_by'])}), threshold "
        f"{ab['threshold']:.4g} chosen on dev for {ab['target']}"
    )
    for split in ("dev", "test"):
        m = ab.get(split)
        if not m:
            continue
        line = (
            f"  {split}: {m['n']} rows, {m['n_oos']} out of scope; in-scope accuracy "
            f"{fig(m, 'in_scope_accuracy')} (without abstaining "
            f"{fig(m, 'in_scope_accuracy_no_abstention')})"
        )
        if m["n_oos"]:
            line += (
                f"; OOS recall {fig(m, 'oos_recall')}, precision {fig(m, 'oos_precision')}, "
                f"AUROC {fig(m, 'auroc')}, FPR at 95% in-scope recall "
                f"{fig(m, 'fpr_at_95_in_scope_recall')}"
            )
        console.print(line)


ABSTAIN_KEYS = (
    "in_scope_accuracy",
    "in_scope_accuracy_no_abstention",
    "oos_recall",
    "oos_precision",
    "oos_f1",
    "auroc",
    "fpr_at_95_in_scope_recall",
)


def _fig(m: dict, k: str) -> str:
    v = m.get(k)
    if v is None:
        return "n/a"
    ci = (m.get("intervals") or {}).get(k)
    return f"{v:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")


def report_sections(r) -> list:
    """The abstention section of an ``--abstain`` run's report: the chosen score and threshold,
    each split's OOS metrics with their 95% intervals, every score's AUROC, risk-coverage."""
    from html import escape as esc

    from tunewise.evaluation import report_svg as svg
    from tunewise.tasks.base import Section

    ab = (r.metrics or {}).get("abstain")
    if not ab:
        return []
    head = (
        f"Score **{ab['score']}** ({ab['chosen_by']}), threshold {ab['threshold']:.4g} chosen on "
        f"dev for {ab['target']}; a text whose score is above it is answered `abstained: true`. "
        "Brackets: 95% bootstrap intervals."
    )
    splits = [(s, ab[s]) for s in ("dev", "test") if ab.get(s)]
    md = [head, "", "| split | rows | out of scope | " + " | ".join(ABSTAIN_KEYS) + " |"]
    md.append("|---|---:|---:|" + "---|" * len(ABSTAIN_KEYS))
    html = [f"<p>{esc(head).replace('**', '')}</p><table><tr><th>split</th><th>rows</th>"]
    html.append("<th>out of scope</th>" + "".join(f"<th>{k}</th>" for k in ABSTAIN_KEYS))
    html.append("</tr>")
    for name, m in splits:
        cells = [_fig(m, k) for k in ABSTAIN_KEYS]
        md.append(f"| {name} | {m['n']} | {m['n_oos']} | " + " | ".join(cells) + " |")
        html.append(
            f"<tr><td>{name}</td><td>{m['n']}</td><td>{m['n_oos']}</td>"
            + "".join(f"<td>{esc(c)}</td>" for c in cells)
            + "</tr>"
        )
    html.append("</table>")
    by = ab.get("by_score") or {}
    if by:
        md += ["", "| score | dev AUROC | test AUROC |", "|---|---:|---:|"]
        html.append("<table><tr><th>score</th><th>dev AUROC</th><th>test AUROC</th></tr>")
        for name, v in by.items():
            d, t = v.get("dev_auroc"), v.get("test_auroc")
            cells = [f"{x:.3f}" if isinstance(x, (int, float)) else "n/a" for x in (d, t)]
            md.append(f"| {name} | {cells[0]} | {cells[1]} |")
            html.append(f"<tr><td>{name}</td><td>{cells[0]}</td><td>{cells[1]}</td></tr>")
        html.append("</table>")
    series = [
        svg.Series(name, list(zip(m["risk_coverage"]["coverage"], m["risk_coverage"]["risk"])))
        for name, m in splits
        if m.get("risk_coverage")
    ]
    if series:
        aurc = ", ".join(f"{n} {m['risk_coverage']['aurc']:.3f}" for n, m in splits)
        md += ["", f"Risk-coverage (answered rows wrong or out of scope): AURC {aurc}."]
        html.append(
            svg.line_chart(
                series,
                title=f"Risk against coverage (AURC {aurc})",
                x_label="coverage (share answered)",
                y_label="risk",
                x_range=(0.0, 1.0),
            )
        )
    return [Section("Abstention (out of scope)", md, "".join(html), "abstain")]
