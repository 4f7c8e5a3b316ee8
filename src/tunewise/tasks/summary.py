"""What every task's terminal summary ends with: the seeds, the checks that failed (and those
worth a line when they pass), and how training went."""

from __future__ import annotations

from rich.markup import escape


def print_seeds(metrics: dict, console, keys) -> None:
    """Mean ± std of ``keys`` over the seeds of a multi-seed run, or the single-seed note."""
    seeds = metrics.get("seeds") or {}
    s = (seeds.get("summary") or {}).get("test")
    if s:
        console.print(
            f"{len(seeds['values'])} seeds {seeds['values']}: test "
            + ", ".join(f"{k} {s[k]['mean']:.4f} ± {s[k]['std']:.4f}" for k in keys if k in s)
            + f" (mean ± std); model and per-row results from {seeds['selected']} "
            f"(chosen on {seeds['selected_on']})"
        )
    elif seeds.get("single_seed"):
        console.print(f"[yellow]{escape(seeds['note'])}[/yellow]")


def print_checks_and_training(
    metrics: dict, console, unit: str = "examples", shown: tuple[str, ...] = ("baselines",)
) -> None:
    """A warning per failed check (the checks named in ``shown`` also when they pass) and the
    training line, ``unit``/s being what a row is called."""
    for name, c in (metrics.get("checks") or {}).items():
        if not c.get("ok", True):
            console.print(f"[yellow]warning \\[{name}]: {escape(c['message'])}[/yellow]")
        elif name in shown:
            console.print(f"{name}: {escape(c['message'])}")
    tr = metrics.get("training")
    if tr:
        console.print(
            f"training: {tr['steps']} steps, {tr['train_seconds']} s, {tr['examples_per_s']} "
            f"{unit}/s, {tr['real_token_share']:.0%} of processed tokens real"
        )
