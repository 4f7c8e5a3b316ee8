"""Cross-validation of one config: ``RUN/fold-<i>/`` runs, pooled at ``RUN``.

A task that offers it (``Task.cv_folds(cfg)`` > 1; retrieval's ``--cv-groups K``) is trained
once per fold, each fold's run told its fold through ``task.options.cv_fold`` (the task's
reader holds that fold out as the test split); ``Task.pool_folds`` then scores every held-out
row once, pooled over the folds, with intervals. The top-level ``metrics.json`` carries the
pooled ``test`` and ``baselines`` and a ``cv`` section (folds, per-fold test metrics).
"""

from __future__ import annotations

import time

from tunewise.config import Config, config_to_dict
from tunewise.rundir import RunDir, prepare_out, write_json


def train_folds(cfg: Config, k: int, overwrite: bool, echo, train_one):
    """Train ``k`` folds and write the pooled summary; returns the top-level RunResult.

    Args:
        train_one: the single-run trainer (``tunewise.run.runner.train``), passed in to keep
            one direction of imports.
    """
    from tunewise.run.result import RunResult
    from tunewise.tasks import get_task

    task = get_task(cfg.task.type)
    top = RunDir(cfg.out)
    prepare_out(top.path, overwrite)
    top.start(config_to_dict(cfg), resume=False)
    results = []
    try:
        for i in range(k):
            sub = cfg.model_copy(deep=True)
            sub.task.options = {**(cfg.task.options or {}), "cv_fold": i}
            sub.out = top.path / f"fold-{i}"
            echo(f"--- fold {i + 1} of {k} -> {sub.out}")
            results.append(train_one(sub, overwrite=overwrite, echo=echo))
    except BaseException as e:
        top.set_status(
            "interrupted" if isinstance(e, KeyboardInterrupt) else "failed", error=str(e)[:500]
        )
        raise
    pooled = task.pool_folds([r.path for r in results])
    metrics = {
        "task": task.name,
        "headline": list(task.headline),
        **pooled,
        "cv": {
            "folds": k,
            "runs": [r.path.name for r in results],
            "per_fold": {r.path.name: r.metrics.get("test") for r in results},
            "note": "test and baselines pool every fold's held-out rows (each row scored once, "
            "by the fold that held it out); models stay in each fold's directory",
        },
    }
    write_json(top.metrics, metrics)
    top.set_status("completed", finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    return RunResult(top.path, metrics)
