"""Printing a run's metrics: its task's summary (shared by train, evaluate and report)."""

from __future__ import annotations

from rich.console import Console

from tunewise.console import make_console


def print_metrics(metrics: dict, console: Console | None = None) -> None:
    """The summary of ``metrics`` (a run's metrics.json, or an evaluation) by its task."""
    from tunewise.tasks import get_task

    get_task(metrics.get("task", "classification")).print_summary(
        metrics, console or make_console(soft_wrap=True)
    )
