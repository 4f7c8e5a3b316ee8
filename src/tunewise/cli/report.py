"""Printing metrics as tables (shared by train and evaluate)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

_KEYS = ("accuracy", "macro_f1", "micro_f1", "mcc")


def print_metrics(metrics: dict, console: Console | None = None) -> None:
    """Headline metrics per split next to the majority-class baseline, then per-class test scores."""
    console = console or Console()
    t = Table("", "n", *_KEYS, title="metrics (computed over whole splits)")
    rows = [(s, metrics[s]) for s in ("dev", "test") if s in metrics]
    base = metrics.get("baselines", {}).get("majority")
    if base:
        rows.append((f"majority baseline (test, always {base.get('predicts')!r})", base))
    for name, m in rows:
        t.add_row(name, str(m.get("n", "")), *(f"{m[k]:.4f}" for k in _KEYS))
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
    if base and "test" in metrics:
        gain = metrics["test"]["accuracy"] - base["accuracy"]
        console.print(
            f"test accuracy {metrics['test']['accuracy']:.4f} vs majority baseline "
            f"{base['accuracy']:.4f} ({gain:+.4f})"
        )
    tr = metrics.get("training")
    if tr:
        console.print(
            f"training: {tr['steps']} steps, {tr['train_seconds']} s, {tr['examples_per_s']} examples/s, "
            f"{tr['real_token_share']:.0%} of processed tokens real"
        )
