"""``tunewise recommend eval`` and ``predict``: a finished recommend run read back."""

from __future__ import annotations

from pathlib import Path

from tunewise.errors import UserError


def _run(path: Path):
    from tunewise.rundir import RunDir, read_json
    from tunewise.tasks.recommend.task import RecommendTask

    run = RunDir(path)
    run.require_complete()
    metrics = read_json(run.metrics) if run.metrics.is_file() else {}
    name = RecommendTask.name
    if metrics.get("task") != name or name not in metrics:
        raise UserError(
            f"{path}: not a recommend run (task {metrics.get('task')!r}); fit one with "
            "`tunewise recommend fit`"
        )
    return run, metrics


def evaluation(path: Path, console) -> dict:
    """Print every system's metrics on warm and cold-start items (the run's evaluation, on
    the same users for every system) and the verdicts; return the metrics."""
    from tunewise.tasks.recommend.summary import print_metrics

    _, metrics = _run(Path(path))
    print_metrics(metrics, console)
    return metrics["recommend"]


def recommend(path: Path, user=None, history: list[str] | None = None, k: int = 10) -> list:
    """The top ``k`` items for a known user or a new user's history (item texts)."""
    import tunewise

    if k < 1:
        raise UserError(f"--k {k}: give 1 or more")
    if (user is None) == (not history):
        raise UserError("give --user ID or --history TEXT (one or more), not both")
    _run(Path(path))
    return tunewise.load(path).recommend(user_id=user, history=history, k=k)


def format_item(rank: int, item: dict) -> str:
    because = f"  (because you liked: {item['because']})" if item.get("because") else ""
    return f"{rank:>3}. {item['item_id']}\t{item['title']}\t{item['score']:.4f}{because}"
