"""The terminal summary and the report section of a regression run."""

from __future__ import annotations

from html import escape

from rich.table import Table

from tunewise.tasks.base import Section
from tunewise.tasks.summary import print_checks_and_training, print_seeds

KEYS = ("rmse", "mae", "pearson", "spearman")


def _cell(m: dict, k: str) -> str:
    v = m.get(k)
    if v is None:
        return "-"
    ci = (m.get("ci") or {}).get(k)
    return f"{v:.4f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")


def rows(metrics: dict) -> list[tuple[str, dict]]:
    out = [(s, metrics[s]) for s in ("dev", "test") if isinstance(metrics.get(s), dict)]
    for name, b in (metrics.get("baselines") or {}).items():
        out.append((f"baseline: {name} (test)", b))
    return out


def print_metrics(metrics: dict, console) -> None:
    t = Table(
        "", "n", *KEYS, title="regression over whole splits (test with bootstrap 95% interval)"
    )
    for name, m in rows(metrics):
        t.add_row(name, str(m.get("n", "")), *(_cell(m, k) for k in KEYS))
    console.print(t)
    scale = metrics.get("target_scaling")
    if scale:
        console.print(
            f"targets standardized with train mean {scale['mean']:.4g}, std {scale['std']:.4g}"
        )
    print_seeds(metrics, console, KEYS)
    print_checks_and_training(metrics, console)


def report_sections(r) -> list[Section]:
    m = r.metrics or {}
    table = rows(m)
    if not table:
        return []
    md = ["| | n | " + " | ".join(KEYS) + " |", "|---|---:|" + "---:|" * len(KEYS)]
    html = ["<table><tr><th></th><th>n</th>" + "".join(f"<th>{k}</th>" for k in KEYS) + "</tr>"]
    for name, v in table:
        cells = [_cell(v, k) for k in KEYS]
        md.append(f"| {name} | {v.get('n', '')} | " + " | ".join(cells) + " |")
        html.append(
            f"<tr><td>{escape(name)}</td><td>{v.get('n', '')}</td>"
            + "".join(f"<td>{escape(c)}</td>" for c in cells)
            + "</tr>"
        )
    html.append("</table>")
    scale = m.get("target_scaling")
    if scale:
        note = (
            f"Targets standardized with train mean {scale['mean']:.4g} and std {scale['std']:.4g}."
        )
        md += ["", note]
        html.append(f"<p>{escape(note)}</p>")
    return [Section("Regression metrics", md, "".join(html), "regression")]
