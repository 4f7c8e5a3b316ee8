"""The terminal table of a recommend run: every system on warm and cold-start items, with
intervals, and the plain verdicts (where text helps and where it does not)."""

from __future__ import annotations

SYSTEMS = (
    "text_model",
    "reranked",
    "hybrid",
    "item_knn",
    "als",
    "popularity",
    "untuned",
    "random",
)
NAMES = {
    "text_model": "text model (fine-tuned two-tower)",
    "reranked": "text model + cross-encoder rerank",
    "hybrid": "hybrid (text + item-kNN)",
    "item_knn": "item-kNN (collaborative)",
    "als": "ALS (collaborative, implicit)",
    "popularity": "popularity",
    "untuned": "untuned encoder",
    "random": "random",
}


SERVED = (
    "predict and /v1/recommend rank by the fine-tuned two-tower text model alone (every item, "
    "cold-start ones included, seen ones excluded); the hybrid and the reranker are measured "
    "here, not served"
)


def _cell(row: dict, key: str) -> str:
    ci = (row.get("ci") or {}).get(key)
    return f"{row[key]:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")


def print_metrics(metrics: dict, console) -> None:
    from rich.table import Table

    rec = metrics.get("recommend")
    if not rec:
        from tunewise.tasks.retrieval.summary import print_metrics as retrieval_metrics

        retrieval_metrics(metrics, console)
        return
    split = rec.get("split") or {}
    for part, rows in rec["systems"].items():
        users = next(iter(rows.values()))["users"]
        label = "warm items" if part == "warm" else "cold-start items (unseen in training)"
        table = Table(title=f"{label}: {users} users, 95% intervals over users")
        for col in ("system", "nDCG@10", "Recall@10", "Recall@50", "MRR", "coverage@10"):
            table.add_column(col)
        for name in SYSTEMS:
            if name in rows:
                r = rows[name]
                table.add_row(
                    f"{part} {NAMES[name]}" if part == "cold" else NAMES[name],
                    _cell(r, "ndcg_at_10"),
                    _cell(r, "recall_at_10"),
                    _cell(r, "recall_at_50"),
                    _cell(r, "mrr"),
                    f"{r['coverage_at_10']:.3f}",
                )
        console.print(table)
    if split:
        console.print(
            f"split: last {split.get('holdout')} liked items per user held out by time; "
            f"{split.get('cold_items')} cold-start items first seen after the time cut"
        )
    if rec.get("hybrid_weight") is not None:
        how = "chosen on a validation split carved from training by time"
        console.print(
            f"hybrid: text weight {rec['hybrid_weight']} "
            + (how if rec.get("hybrid_validation") else "(set by task.options.hybrid_weight)")
        )
    for v in rec.get("verdicts") or []:
        console.print(v["message"])
    console.print(SERVED)


def report_sections(r) -> list:
    """The report's section: every system on warm and cold-start items, and the verdicts."""
    from html import escape

    from tunewise.tasks.base import Section

    rec = (r.metrics or {}).get("recommend")
    if not rec:
        return []
    keys = ("ndcg_at_10", "recall_at_10", "recall_at_50", "mrr")
    head = ("nDCG@10", "Recall@10", "Recall@50", "MRR", "coverage@10")
    md = ["| items | system | users | " + " | ".join(head) + " |", "|---|---|---:|" + "---:|" * 5]
    html = ["<table><tr><th>items</th><th>system</th><th>users</th>"]
    html.append("".join(f"<th>{h}</th>" for h in head) + "</tr>")
    for part, rows in rec["systems"].items():
        for name in SYSTEMS:
            if name not in rows:
                continue
            v = rows[name]
            cells = [_cell(v, k) for k in keys] + [f"{v['coverage_at_10']:.3f}"]
            md.append(f"| {part} | {NAMES[name]} | {v['users']} | " + " | ".join(cells) + " |")
            html.append(
                f"<tr><td>{part}</td><td>{escape(NAMES[name])}</td><td>{v['users']}</td>"
                + "".join(f"<td>{escape(c)}</td>" for c in cells)
                + "</tr>"
            )
    html.append("</table>")
    verdicts = [v["message"] for v in rec.get("verdicts") or []]
    md += [""] + [f"- {m}" for m in verdicts]
    html.append("<ul>" + "".join(f"<li>{escape(m)}</li>" for m in verdicts) + "</ul>")
    return [Section("Recommendation (warm and cold-start items)", md, "".join(html), "recommend")]
