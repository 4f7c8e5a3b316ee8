"""The terminal summary and the report section of a retrieval run."""

from __future__ import annotations

from html import escape

from rich.table import Table

from tunewise.tasks.base import Section
from tunewise.tasks.summary import print_checks_and_training

KEYS = ("recall_at_1", "recall_at_5", "recall_at_10", "mrr_at_10", "ndcg_at_10")
HEAD = ("R@1", "R@5", "R@10", "MRR@10", "nDCG@10")


def _cell(m: dict, k: str) -> str:
    v = m.get(k)
    if v is None:
        return "-"
    ci = (m.get("ci") or {}).get(k)
    return f"{v:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")


def rows(metrics: dict) -> list[tuple[str, dict]]:
    out = []
    where = "cross-validated" if metrics.get("cv") else "test"
    if isinstance(metrics.get("dev"), dict):
        out.append(("fine-tuned (dev)", metrics["dev"]))
    if isinstance(metrics.get("dev_reranked"), dict):
        out.append(("fine-tuned + cross-encoder (dev)", metrics["dev_reranked"]))
    if isinstance(metrics.get("test"), dict):
        out.append((f"fine-tuned ({where})", metrics["test"]))
    if isinstance(metrics.get("reranked"), dict):
        unused = (metrics.get("reranker") or {}).get("used") is False
        tag = ", not used by predict" if unused else ""
        out.append((f"fine-tuned + cross-encoder ({where}{tag})", metrics["reranked"]))
    for name, b in (metrics.get("baselines") or {}).items():
        out.append((f"baseline: {name} ({where})", b))
    return out


def print_metrics(metrics: dict, console) -> None:
    t = Table("", "n", *HEAD, title="retrieval (test with bootstrap 95% interval over queries)")
    for name, m in rows(metrics):
        t.add_row(name, str(m.get("n", "")), *(_cell(m, k) for k in KEYS))
    console.print(t)
    cv = metrics.get("cv")
    if cv:
        console.print(
            f"{cv['folds']}-fold cross-validation grouped by passage; folds in {', '.join(cv['runs'])}"
        )
    print_checks_and_training(metrics, console)


def report_sections(r) -> list[Section]:
    m = r.metrics or {}
    table = rows(m)
    if not table:
        return []
    md = ["| | n | " + " | ".join(HEAD) + " |", "|---|---:|" + "---:|" * len(KEYS)]
    html = ["<table><tr><th></th><th>n</th>" + "".join(f"<th>{k}</th>" for k in HEAD) + "</tr>"]
    for name, v in table:
        cells = [_cell(v, k) for k in KEYS]
        md.append(f"| {name} | {v.get('n', '')} | " + " | ".join(cells) + " |")
        html.append(
            f"<tr><td>{escape(name)}</td><td>{v.get('n', '')}</td>"
            + "".join(f"<td>{escape(c)}</td>" for c in cells)
            + "</tr>"
        )
    html.append("</table>")
    return [Section("Retrieval metrics", md, "".join(html), "retrieval")]
