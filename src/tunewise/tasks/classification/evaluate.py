"""A classification run's final evaluation: metrics over whole splits, the multi-label
threshold tuned on dev, baselines (majority, TF-IDF + logistic regression), bootstrap
intervals, calibration, label issues in train, and the per-row predictions files."""

from __future__ import annotations

import json
from pathlib import Path

from tunewise.rundir import atomic_write


def write_predictions(path: Path, examples, encoded, logits, task, threshold: float) -> None:
    """One JSON line per row of a split, in file order: gold, prediction, logits.

    Later stages (compare, calibration, the report) read these instead of re-running the model.
    """
    pred = task.predict(logits, threshold)
    lines = []
    for i, ex in enumerate(examples):
        gold = encoded.labels[i]
        rec = {
            "row": i,
            "where": ex.where,
            "gold": gold.tolist() if task.multi_label else int(gold),
            "pred": pred[i].tolist() if task.multi_label else int(pred[i]),
            "logits": [round(float(x), 6) for x in logits[i]],
        }
        lines.append(json.dumps(rec))
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, "\n".join(lines) + "\n")


def evaluate(task, f) -> dict:
    """Final metrics of the best model (``f``: the runner's :class:`~tunewise.tasks.base.Fitted`)."""
    from tunewise.data.saved import save_split
    from tunewise.evaluation.calibration import apply_temperature
    from tunewise.evaluation.checks import collapse, compare_to_baselines, tfidf_baseline
    from tunewise.evaluation.honest import add_intervals, calibration, find_label_issues
    from tunewise.evaluation.metrics import majority_baseline
    from tunewise.training.loop import predict_logits

    enc, data = f.enc, f.data
    metrics: dict = {}
    checks: dict = {}
    logits_by_split = {}
    threshold = 0.5
    if enc["dev"] is not None:
        dev_logits = predict_logits(
            f.model, task, enc["dev"], f.eval_batch_size, f.accelerator, f.pad_id
        )
        if task.multi_label:
            threshold = task.tune_threshold(dev_logits, enc["dev"].labels)
            metrics["threshold"] = threshold
        metrics["dev"] = task.metrics(dev_logits, enc["dev"].labels, threshold)
        logits_by_split["dev"] = dev_logits
    task.threshold = threshold
    if enc["test"] is not None:
        test_logits = predict_logits(
            f.model, task, enc["test"], f.eval_batch_size, f.accelerator, f.pad_id
        )
        metrics["test"] = task.metrics(test_logits, enc["test"].labels, threshold)
        logits_by_split["test"] = test_logits
        metrics["baselines"] = {
            "majority": majority_baseline(
                enc["train"].labels, enc["test"].labels, task.labels, task.multi_label
            )
        }
        tfidf = tfidf_baseline(data.train, data.dev, data.test, task.labels, task.multi_label)
        if tfidf is not None:
            metrics["baselines"]["tfidf_logreg"] = tfidf
        add_intervals(metrics["test"], task, enc["test"].labels, test_logits, threshold)
        if "dev" in logits_by_split:
            metrics["calibration"] = calibration(
                task, enc["dev"].labels, logits_by_split["dev"], enc["test"].labels, test_logits
            )
            # applied by default where it lowers dev NLL; --no-calibrate turns it off
            t = apply_temperature(metrics["calibration"], f.cfg.task.calibrate)
            if t is not None:
                task.temperature = t
        checks["baselines"] = compare_to_baselines(metrics["test"], metrics["baselines"])
    if f.main:
        save_split(f.run.path, "dev", data.dev)  # an int8 export's probe: never test
        if f.cfg.task.label_issues:
            checks["label_issues"] = find_label_issues(
                f.raw, task, enc["train"], data.train, f.pad_id, f.run.label_issues
            )
        else:
            checks["label_issues"] = {
                "ok": True,
                "count": 0,
                "skipped": True,
                "message": "label-issue search skipped (--no-label-issues)",
            }
        for name, logits in logits_by_split.items():
            write_predictions(
                f.run.predictions / f"{name}.jsonl",
                getattr(data, name),
                enc[name],
                logits,
                task,
                threshold,
            )
    split = "test" if "test" in logits_by_split else "dev" if "dev" in logits_by_split else None
    if split is not None:  # against the true label distribution, not only "all one class"
        checks["collapse"] = collapse(
            task.predict(logits_by_split[split], threshold), task.labels, enc[split].labels
        )
    metrics["checks"] = checks
    metrics["_outputs"] = logits_by_split
    return metrics
