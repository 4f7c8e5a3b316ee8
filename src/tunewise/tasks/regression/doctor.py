"""The doctor's checks of regression targets (named in ``RegressionTask.doctor_checks``)."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from tunewise.doctor.registry import Context, Splits, check
from tunewise.doctor.text import first, key_of, present


@check("regression_targets", "error")
def regression_targets(splits: Splits, ctx: Context):
    """Targets per split: a constant train target leaves nothing to learn; far outliers."""
    details: dict = {}
    for name in present(splits):
        y = np.array([ex.label for ex in splits[name]], dtype=np.float64)
        q1, q3 = np.percentile(y, [25, 75])
        iqr = q3 - q1
        far = np.abs(y - np.median(y)) > 10 * max(iqr, 1e-12) if iqr > 0 else np.zeros(len(y), bool)
        details[name] = {
            "rows": int(len(y)),
            "mean": float(y.mean()),
            "std": float(y.std()),
            "min": float(y.min()),
            "max": float(y.max()),
            "distinct": int(len(np.unique(y))),
            "far_outliers": int(far.sum()),
            "examples": [{"text": splits[name][i].where} for i in first(np.flatnonzero(far))],
        }
    train = details.get("train")
    if train and train["distinct"] < 2:
        return ctx.result(
            False,
            f"every train target is {train['min']:g}",
            "a constant target leaves nothing to learn; check the label column.",
            details,
        )
    outliers = sum(d["far_outliers"] for d in details.values())
    if outliers:
        return ctx.result(
            False,
            f"{outliers} target(s) lie over 10 interquartile ranges from the median",
            "they dominate an MSE loss; check them, or train with task.options.loss=huber.",
            details,
            severity="warning",
        )
    return ctx.result(
        True, f"targets spread over {train['distinct'] if train else 0} values", "", details
    )


@check("target_conflicts", "warning")
def target_conflicts(splits: Splits, ctx: Context):
    """The same text with different targets (within train): noise the model cannot fit."""
    seen: dict = defaultdict(set)
    rows: dict = defaultdict(list)
    for ex in splits.get("train") or []:
        k = key_of(ex)
        seen[k].add(float(ex.label))
        rows[k].append(ex)
    bad = [k for k, v in seen.items() if len(v) > 1]
    details = {
        "texts": len(bad),
        "examples": [
            {"text": rows[k][0].text[:200], "targets": sorted(seen[k])} for k in first(bad)
        ],
    }
    if not bad:
        return ctx.result(True, "no text has two different targets", "", details)
    return ctx.result(
        False,
        f"{len(bad)} text(s) occur with different targets",
        "average or drop the copies; the spread of their targets is noise no model fits.",
        details,
    )
