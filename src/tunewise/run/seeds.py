"""Several seeds of one config: ``RUN/seed-<s>/`` runs, summarized at ``RUN``.

The top-level run directory keeps the same contract as a single run: ``metrics.json`` (with a
``seeds`` section: values, mean/std/min/max of every metric), ``model/`` and ``predictions/``
of the seed chosen on dev (never on test), ``run.json`` and ``config.yaml``.
"""

from __future__ import annotations

import shutil
import time

from tunewise.config import Config, config_to_dict
from tunewise.evaluation.stats import summarize_seeds
from tunewise.rundir import (
    MODEL_DIR,
    PREDICTIONS_DIR,
    SUMMARY_FILES,
    RunDir,
    prepare_out,
    write_json,
)


def train_seeds(cfg: Config, overwrite: bool, echo, train_one):
    """Train ``cfg.train.seeds`` seeds and write the summary; returns the top-level RunResult.

    Args:
        train_one: the single-run trainer (``tunewise.run.runner.train``), passed in to keep
            one direction of imports.
    """
    from tunewise.run.result import RunResult

    top = RunDir(cfg.out)
    prepare_out(top.path, overwrite)
    top.start(config_to_dict(cfg), resume=False)
    seeds = [cfg.train.seed + i for i in range(cfg.train.seeds)]
    results = []
    try:
        for s in seeds:
            sub = cfg.model_copy(deep=True)
            sub.train.seed, sub.train.seeds, sub.out = s, 1, top.path / f"seed-{s}"
            echo(f"--- seed {s} ({len(results) + 1} of {len(seeds)}) -> {sub.out}")
            results.append(train_one(sub, overwrite=overwrite, echo=echo))
    except BaseException as e:
        top.set_status(
            "interrupted" if isinstance(e, KeyboardInterrupt) else "failed", error=str(e)[:500]
        )
        raise
    from tunewise.tasks import get_task

    task = get_task(cfg.task.type)
    metric = results[0].metrics["metric_for_best"]
    with_dev = [r for r in results if "dev" in r.metrics]
    sign = -1.0 if metric in task.lower_is_better else 1.0
    chosen = (
        max(with_dev, key=lambda r: sign * r.metrics["dev"][metric]) if with_dev else results[0]
    )
    keys = tuple(dict.fromkeys((*task.log_keys, "accuracy", "macro_f1", "micro_f1", "mcc")))
    summary = {
        split: summarize_seeds([r.metrics[split] for r in results], keys=keys)
        for split in ("dev", "test")
        if all(split in r.metrics for r in results)
    }
    metrics = {k: v for k, v in chosen.metrics.items() if k != "seeds"}
    metrics["seeds"] = {
        "values": seeds,
        "single_seed": False,
        "runs": [r.path.name for r in results],
        "summary": summary,
        "selected": chosen.path.name,
        "selected_on": f"dev {metric}" if with_dev else "first seed (no dev set)",
        "note": "top-level dev/test/model are the seed chosen on dev; the summary is over all seeds",
    }
    for name in (MODEL_DIR, PREDICTIONS_DIR):
        src = chosen.path / name
        if src.exists():
            shutil.copytree(src, top.path / name, dirs_exist_ok=True)
    for name in SUMMARY_FILES:
        if (chosen.path / name).exists():
            shutil.copy2(chosen.path / name, top.path / name)
    write_json(top.metrics, metrics)
    top.set_status("completed", finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    from tunewise.run.finish import write_report

    write_report(top.path)
    return RunResult(top.path, metrics)
