"""`tunewise tasks`: the registered tasks, their headline metric, route and options."""

from __future__ import annotations


def tasks() -> None:
    """List the tasks `--task` accepts (built-in folders and installed plugins)."""
    from tunewise.tasks import TASKS

    rows = [("task", "headline", "route", "options", "what")]
    for t in TASKS.values():
        route = t.route.path if t.route is not None else "-"
        opts = ", ".join(t.options.model_fields) if t.options is not None else "-"
        rows.append((t.name, t.headline[1], route, opts, t.summary))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        print("  ".join([*(c.ljust(w) for c, w in zip(r, widths)), r[-1]]))
    print("\nUse: tunewise train --task NAME ...   (a task's options: task.options.KEY=VALUE)")
