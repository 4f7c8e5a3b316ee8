"""The terminal summary and the report sections of an sft run."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from tunewise.console import make_console
from tunewise.tasks.base import Section
from tunewise.tasks.summary import print_checks_and_training, print_seeds


def print_sft_metrics(metrics: dict, console: Console | None = None) -> None:
    """Dev/test loss and perplexity; generation on dev prompts before and after."""
    console = console or make_console(soft_wrap=True)
    t = Table("", "loss", "perplexity", "tokens", title="next-token loss on assistant tokens")
    for s in ("dev_before", "dev", "test"):
        if s in metrics and "loss" in metrics[s]:
            m = metrics[s]
            t.add_row(s, f"{m['loss']:.4f}", f"{m['perplexity']:.2f}", str(m["tokens"]))
    console.print(t)
    tg = (metrics.get("test") or {}).get("generation")
    if tg:
        console.print(test_generation_line(tg))
    gen = metrics.get("generation")
    if gen:
        g = Table(
            "",
            "exact match",
            "ROUGE-L",
            "stopped by EOS",
            "mean new tokens",
            title=f"greedy answers to {gen['after']['n']} dev prompts (samples.md)",
        )
        for k in ("before", "after"):
            m = gen.get(k)
            if not m:
                continue
            f = lambda v, fmt="{:.3f}": "-" if v is None else fmt.format(v)  # noqa: E731
            g.add_row(
                k,
                f(m["exact_match"]),
                f(m["rouge_l"]),
                f(m["stopped_share"], "{:.0%}"),
                f(m["mean_new_tokens"], "{:.1f}"),
            )
        console.print(g)
    print_seeds(metrics, console, ("loss", "perplexity"))
    print_checks_and_training(metrics, console, shown=())


def _ci(g: dict, key: str) -> str:
    ci = (g.get("ci") or {}).get(key)
    return f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else ""


def test_generation_line(g: dict) -> str:
    """One line: generation metrics over the test prompts, with intervals and the sample."""
    what = (
        f"a seeded sample of {g['rows']} of {g['of']} test prompts (seed {g.get('seed')})"
        if g.get("sample")
        else f"all {g['rows']} test prompts"
    )
    parts = []
    for key, name in (
        ("exact_match", "exact match"),
        ("rouge_l", "ROUGE-L"),
        ("stopped", "stopped"),
    ):
        if g.get(key) is not None:
            parts.append(f"{name} {g[key]:.3f}{_ci(g, key)}")
    return f"generation on {what}: " + ", ".join(parts) + " (95% bootstrap intervals)"


def report_sections(r) -> list[Section]:
    """Loss and perplexity before/after, and generation on test prompts."""
    from html import escape

    m = r.metrics or {}
    rows = [
        (s, m[s])
        for s in ("dev_before", "dev", "test")
        if isinstance(m.get(s), dict) and "loss" in m[s]
    ]
    md = ["| split | loss | perplexity | tokens |", "|---|---:|---:|---:|"]
    html = ["<table><tr><th>split</th><th>loss</th><th>perplexity</th><th>tokens</th></tr>"]
    for s, v in rows:
        md.append(f"| {s} | {v['loss']:.4f} | {v['perplexity']:.2f} | {v['tokens']} |")
        html.append(
            f"<tr><td>{escape(s)}</td><td>{v['loss']:.4f}</td><td>{v['perplexity']:.2f}</td>"
            f"<td>{v['tokens']}</td></tr>"
        )
    html.append("</table>")
    if not rows:
        md, html = ["not available"], ["<p>not available</p>"]
    out = [Section("Next-token loss (assistant tokens)", md, "".join(html), "sft-loss")]
    g = (m.get("test") or {}).get("generation")
    gen = m.get("generation") or {}
    lines, body = [], []
    if g:
        lines.append(test_generation_line(g))
        body.append(f"<p>{escape(test_generation_line(g))}</p>")
    for k in ("before", "after"):
        v = gen.get(k)
        if isinstance(v, dict):
            line = (
                f"dev prompts {k} fine-tuning ({v.get('n')}): ROUGE-L {v.get('rouge_l')}, "
                f"exact match {v.get('exact_match')}, stopped {v.get('stopped_share')}"
            )
            lines.append(line)
            body.append(f"<p>{escape(line)}</p>")
    if lines:
        out.append(
            Section(
                "Generation",
                [f"- {x}" for x in lines] + ["", "Samples: samples.md"],
                "".join(body) + "<p>Samples: samples.md</p>",
                "sft-generation",
            )
        )
    return out
