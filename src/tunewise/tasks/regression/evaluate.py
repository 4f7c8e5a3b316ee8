"""A regression run's final evaluation: metrics over whole splits with bootstrap intervals,
the baselines, and ``predictions/`` (gold and predicted number per row, in file order)."""

from __future__ import annotations

import json
from pathlib import Path

from tunewise.rundir import atomic_write


def write_predictions(path: Path, examples, values) -> None:
    lines = [
        json.dumps(
            {"row": i, "where": ex.where, "gold": ex.label, "prediction": round(float(v), 6)}
        )
        for i, (ex, v) in enumerate(zip(examples, values))
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, "\n".join(lines) + "\n")


def evaluate(task, f) -> dict:
    from tunewise.tasks.regression import metrics as rm
    from tunewise.training.loop import predict_logits

    metrics: dict = {"target_scaling": {"mean": task.mean, "std": task.std}}
    outputs, checks = {}, {}
    for name in ("dev", "test"):
        if f.enc[name] is not None:
            outputs[name] = predict_logits(
                f.model, task, f.enc[name], f.eval_batch_size, f.accelerator, f.pad_id
            )
            metrics[name] = task.metrics(outputs[name], f.enc[name].labels)
    if "test" in metrics:
        y = [e.label for e in f.data.test]
        pred = task.values(outputs["test"])
        metrics["test"]["ci"] = rm.bootstrap_intervals(y, pred)
        metrics["test"]["ci_method"] = "percentile bootstrap over rows, 1000 resamples, 95%"
        f.echo("baselines: train mean, TF-IDF + ridge regression")
        metrics["baselines"] = rm.baselines(f.data.train, f.data.dev, f.data.test)
        checks["baselines"] = rm.compare_to_baselines(metrics["test"], metrics["baselines"])
    if f.main:
        for name, lg in outputs.items():
            write_predictions(
                f.run.predictions / f"{name}.jsonl", getattr(f.data, name), task.values(lg)
            )
    metrics["checks"] = checks
    metrics["_outputs"] = outputs
    return metrics
