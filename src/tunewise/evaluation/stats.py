"""Honest comparisons: bootstrap intervals, paired tests, seed spread and a verdict in words.

Everything works on class ids (0..C-1, single-label). Bootstrap metrics are computed from
per-resample confusion counts (one ``np.bincount`` per chunk of resamples), so 10,000 resamples
of a few thousand rows take about a second instead of minutes of scikit-learn calls; the formulas
match ``tunewise.evaluation.metrics`` (``zero_division=0``, every class id counted).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tunewise.errors import UserError

METRICS = ("accuracy", "macro_f1", "micro_f1", "mcc")
_NAMES = {"accuracy": "accuracy", "macro_f1": "macro-F1", "micro_f1": "micro-F1", "mcc": "MCC"}
# Resample indices are drawn in chunks of at most this many cells to bound memory (~16 MB).
_CHUNK_CELLS = 2_000_000


def _check(y_true, *preds) -> tuple[np.ndarray, ...]:
    y_true = np.asarray(y_true, dtype=np.int64)
    out = [y_true]
    for p in preds:
        p = np.asarray(p, dtype=np.int64)
        if p.shape != y_true.shape or y_true.ndim != 1:
            raise ValueError(f"{p.shape} predictions for gold of shape {y_true.shape}")
        out.append(p)
    if len(y_true) == 0:
        raise ValueError("no rows")
    return tuple(out)


def _n_labels(n_labels: int | None, *arrays: np.ndarray) -> int:
    seen = max(int(a.max()) for a in arrays) + 1
    return max(seen, n_labels or 0)


def _from_confusions(cm: np.ndarray, metric: str) -> np.ndarray:
    """Metric per confusion matrix; ``cm`` is [B, C, C] (rows gold, columns predicted)."""
    cm = cm.astype(np.float64)
    n = cm.sum(axis=(1, 2))
    tp = np.diagonal(cm, axis1=1, axis2=2)
    correct = tp.sum(axis=1)
    if metric in ("accuracy", "micro_f1"):
        # Single-label micro-F1 over all classes is accuracy.
        return correct / n
    gold = cm.sum(axis=2)
    pred = cm.sum(axis=1)
    if metric == "macro_f1":
        denom = gold + pred  # 2tp + fp + fn
        f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
        return f1.mean(axis=1)
    if metric == "mcc":
        num = correct * n - (gold * pred).sum(axis=1)
        den = np.sqrt((n**2 - (pred**2).sum(axis=1)) * (n**2 - (gold**2).sum(axis=1)))
        return np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    raise ValueError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")


def _point(y_true: np.ndarray, y_pred: np.ndarray, metric: str, c: int) -> float:
    cm = np.bincount(y_true * c + y_pred, minlength=c * c).reshape(1, c, c)
    return float(_from_confusions(cm, metric)[0])


def _resampled(codes: list[np.ndarray], c: int, metric: str, n_boot: int, seed: int):
    """Metric of each code array (``gold*C + pred``) on the same ``n_boot`` row resamples."""
    n, cells = len(codes[0]), c * c
    rng = np.random.default_rng(seed)
    out = [np.empty(n_boot) for _ in codes]
    step = max(1, _CHUNK_CELLS // n)
    for start in range(0, n_boot, step):
        b = min(step, n_boot - start)
        idx = rng.integers(0, n, size=(b, n))
        offset = (np.arange(b) * cells)[:, None]
        for code, res in zip(codes, out):
            if metric == "accuracy":
                # Correctness is all accuracy needs; skip the confusion counts.
                res[start : start + b] = code[idx].mean(axis=1)
                continue
            cm = np.bincount((code[idx] + offset).ravel(), minlength=b * cells)
            res[start : start + b] = _from_confusions(cm.reshape(b, c, c), metric)
    return out


def _codes(y_true, y_pred, c: int, metric: str) -> np.ndarray:
    if metric == "accuracy":
        return (y_true == y_pred).astype(np.float64)
    return y_true * c + y_pred


def bootstrap_ci(
    y_true,
    y_pred,
    metric: str = "accuracy",
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
    n_labels: int | None = None,
) -> tuple[float, float]:
    """Percentile bootstrap interval of a metric, resampling test rows with replacement.

    Args:
        metric: ``accuracy``, ``macro_f1``, ``micro_f1`` or ``mcc``.
        alpha: 0.05 gives a 95% interval.
        n_labels: number of classes (macro-F1 averages over all of them); default: the largest
            id seen + 1.

    Returns:
        ``(lo, hi)``.
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
    y_true, y_pred = _check(y_true, y_pred)
    c = _n_labels(n_labels, y_true, y_pred)
    (vals,) = _resampled([_codes(y_true, y_pred, c, metric)], c, metric, n_boot, seed)
    lo, hi = np.quantile(vals, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def metric_intervals(
    y_true, y_pred, n_labels: int, n_boot: int = 1000, seed: int = 0, alpha: float = 0.05
) -> dict[str, list[float]]:
    """95% (by default) bootstrap intervals of accuracy, macro/micro F1 and MCC."""
    return {
        m: list(bootstrap_ci(y_true, y_pred, m, n_boot, seed, alpha, n_labels)) for m in METRICS
    }


def paired_bootstrap(
    y_true,
    pred_a,
    pred_b,
    metric: str = "accuracy",
    n_boot: int = 10000,
    seed: int = 0,
    alpha: float = 0.05,
    n_labels: int | None = None,
) -> dict:
    """Paired bootstrap of ``metric(B) - metric(A)``: both scored on the same resampled rows.

    The p-value is two-sided: twice the share of resamples whose delta does not have the sign
    of the observed one (capped at 1; 1 when the observed delta is 0). With no such resample it
    is 0, meaning below ``1 / n_boot``.

    Returns:
        ``{"metric", "a", "b", "delta", "ci": [lo, hi], "p_value", "n", "n_boot", "level"}``.
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
    y_true, pred_a, pred_b = _check(y_true, pred_a, pred_b)
    c = _n_labels(n_labels, y_true, pred_a, pred_b)
    a, b = _point(y_true, pred_a, metric, c), _point(y_true, pred_b, metric, c)
    ra, rb = _resampled(
        [_codes(y_true, pred_a, c, metric), _codes(y_true, pred_b, c, metric)],
        c,
        metric,
        n_boot,
        seed,
    )
    deltas = rb - ra
    delta = b - a
    # Float noise in the per-resample means must not count as a sign flip.
    eps = 1e-12
    if delta > eps:
        share = float(np.mean(deltas <= eps))
    elif delta < -eps:
        share = float(np.mean(deltas >= -eps))
    else:
        share = 0.5
    lo, hi = np.quantile(deltas, [alpha / 2, 1 - alpha / 2])
    return {
        "metric": metric,
        "a": a,
        "b": b,
        "delta": delta,
        "ci": [float(lo), float(hi)],
        "p_value": min(1.0, 2 * share),
        "n": int(len(y_true)),
        "n_boot": int(n_boot),
        "level": 1 - alpha,
    }


def mcnemar(y_true, pred_a, pred_b) -> dict:
    """McNemar's test on the rows where exactly one of A and B is right.

    Exact two-sided binomial test when fewer than 25 rows disagree, else chi-square with
    continuity correction, both from scipy: statsmodels' ``mcnemar`` gives the same p-values
    (max difference 0.0 over six tables, benchmarks/bench_libraries.py) and would add
    statsmodels and patsy to the pins.

    Returns:
        ``{"a_only_right", "b_only_right", "statistic", "p_value", "exact"}``.
    """
    from scipy import stats

    y_true, pred_a, pred_b = _check(y_true, pred_a, pred_b)
    ra, rb = pred_a == y_true, pred_b == y_true
    b, c = int(np.sum(ra & ~rb)), int(np.sum(rb & ~ra))
    if b + c == 0:
        stat, p, exact = 0.0, 1.0, True
    elif b + c < 25:
        stat, p, exact = float(min(b, c)), float(stats.binomtest(b, b + c, 0.5).pvalue), True
    else:
        stat = (abs(b - c) - 1) ** 2 / (b + c)
        p, exact = float(stats.chi2.sf(stat, df=1)), False
    return {
        "a_only_right": b,
        "b_only_right": c,
        "statistic": float(stat),
        "p_value": min(1.0, p),
        "exact": exact,
    }


def bootstrap_mean(values, n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> list[float]:
    """Percentile bootstrap interval of the mean of per-row ``values`` (resampling rows)."""
    v = np.asarray(values, dtype=np.float64)
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, len(v), size=(n_boot, len(v)))].mean(axis=1)
    a = (1 - level) / 2
    return [float(np.quantile(means, a)), float(np.quantile(means, 1 - a))]


def seed_summary(values: list[float]) -> dict:
    """Mean, sample standard deviation (ddof=1; 0 for one value), min, max, n and the values."""
    v = np.asarray(list(values), dtype=np.float64)
    if v.size == 0:
        raise ValueError("no values to summarize")
    return {
        "mean": float(v.mean()),
        "std": float(v.std(ddof=1)) if v.size > 1 else 0.0,
        "min": float(v.min()),
        "max": float(v.max()),
        "n": int(v.size),
        "values": [float(x) for x in v],
    }


def summarize_seeds(metrics: list[dict], keys=("accuracy", "macro_f1", "micro_f1", "mcc")) -> dict:
    """``{key: seed_summary}`` over one metrics dict per seed (keys present in every dict)."""
    return {k: seed_summary([m[k] for m in metrics]) for k in keys if all(k in m for m in metrics)}


def _p(p: float, n_boot: int | None = None) -> str:
    if p == 0 and n_boot:
        return f"p<{1 / n_boot:.2g}"
    if p < 0.001:
        return "p<0.001"
    # Three significant digits: rounding must not carry a p of 0.0496 across alpha = 0.05.
    return f"p={p:.3g}"


def verdict(paired: dict, mcnemar_result: dict | None = None, alpha: float = 0.05) -> str:
    """One sentence saying which run is better, by how much, and whether it could be chance.

    The difference is called real only when the paired bootstrap (and McNemar's test, when
    given) are below ``alpha``.
    """
    name = _NAMES.get(paired["metric"], paired["metric"])
    pts = abs(paired["delta"]) * 100
    level = round(paired.get("level", 0.95) * 100)
    tests = [("paired bootstrap", paired["p_value"], paired.get("n_boot"))]
    if mcnemar_result is not None:
        tests.append(("McNemar", mcnemar_result["p_value"], None))
    ps = ", ".join(f"{t} {_p(p, nb)}" for t, p, nb in tests)
    if paired["delta"] == 0:
        head = f"A and B have the same {name} ({paired['a'] * 100:.1f})"
        return f"{head} ({ps}): there is no difference to explain."
    lo, hi = (x * 100 for x in paired["ci"])
    better, worse = ("B", "A") if paired["delta"] > 0 else ("A", "B")
    if better == "A":  # the interval of A - B, so it reads in the sentence's direction
        lo, hi = -hi, -lo
    head = (
        f"{better} is better than {worse} by {pts:.1f} points of {name} "
        f"({level}% CI {lo:.1f} to {hi:.1f}; {ps})"
    )
    worst = max(p for _, p, _ in tests)
    if worst < alpha:
        return f"{head}: the difference is real."
    return (
        f"{head}: the difference could be chance ({_p(worst)}); "
        "more test rows or seeds would be needed to tell."
    )


def _read_predictions(run: Path) -> list[dict]:
    f = Path(run) / "predictions" / "test.jsonl"
    if not Path(run).is_dir():
        raise UserError(f"{run}: no such run directory")
    if not f.is_file():
        raise UserError(
            f"{f}: not found; compare needs a finished run directory with test predictions "
            "(train with a test split)"
        )
    rows = []
    for i, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            if isinstance(rec["gold"], list) or isinstance(rec["pred"], list):
                raise UserError(
                    f"{f}: multi-label predictions; compare supports single-label runs only"
                )
            rows.append(
                {
                    "where": rec.get("where"),
                    "gold": int(rec["gold"]),
                    "pred": int(rec["pred"]),
                    "width": len(rec.get("logits") or ()),
                }
            )
        except (ValueError, KeyError, TypeError):
            raise UserError(
                f"{f} line {i}: not a prediction record (needs JSON with 'gold' and 'pred')"
            ) from None
    if not rows:
        raise UserError(f"{f}: no rows")
    return rows


def compare_runs(run_a, run_b, n_boot: int = 10000, seed: int = 0) -> dict:
    """Compare two runs on their shared test rows (``predictions/test.jsonl`` of each).

    Raises:
        UserError: a file is missing or unreadable, the runs are multi-label, or they were not
            scored on the same test rows (count, ``where`` or ``gold`` differ).

    Returns:
        ``{"a", "b", "n", "accuracy": paired_bootstrap, "macro_f1": paired_bootstrap,
        "mcnemar", "verdict"}``.
    """
    ra, rb = _read_predictions(Path(run_a)), _read_predictions(Path(run_b))
    if len(ra) != len(rb):
        raise UserError(
            f"not the same test rows: {run_a} has {len(ra)} test predictions, {run_b} has {len(rb)}"
        )
    for i, (x, y) in enumerate(zip(ra, rb)):
        if x["where"] != y["where"]:
            raise UserError(
                f"not the same test rows: row {i} is {x['where']} in {run_a} "
                f"but {y['where']} in {run_b}"
            )
        if x["gold"] != y["gold"]:
            raise UserError(
                f"not the same test rows: row {i} ({x['where']}) has gold label id {x['gold']} "
                f"in {run_a} but {y['gold']} in {run_b}"
            )
    gold = np.array([r["gold"] for r in ra])
    pa = np.array([r["pred"] for r in ra])
    pb = np.array([r["pred"] for r in rb])
    c = max(r["width"] for r in ra + rb) or None
    acc = paired_bootstrap(gold, pa, pb, "accuracy", n_boot, seed, n_labels=c)
    f1 = paired_bootstrap(gold, pa, pb, "macro_f1", n_boot, seed, n_labels=c)
    mc = mcnemar(gold, pa, pb)
    return {
        "a": str(run_a),
        "b": str(run_b),
        "n": int(len(gold)),
        "accuracy": acc,
        "macro_f1": f1,
        "mcnemar": mc,
        "verdict": verdict(acc, mc),
    }


def bootstrap_means(
    per_row: dict, n_boot: int = 1000, seed: int = 0, alpha: float = 0.05
) -> dict[str, list[float]]:
    """Percentile bootstrap intervals of metrics that are means of per-row values (a
    retrieval's reciprocal rank, hit@k): every metric resampled on the same rows.

    Args:
        per_row: metric name -> one value per row (all the same length).

    Returns:
        metric name -> ``[lo, hi]``.
    """
    arrays = {k: np.asarray(v, dtype=np.float64) for k, v in per_row.items()}
    n = len(next(iter(arrays.values()))) if arrays else 0
    if n == 0:
        return {}
    idx = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    out = {}
    for k, v in arrays.items():
        means = v[idx].mean(axis=1)
        lo, hi = np.quantile(means, [alpha / 2, 1 - alpha / 2])
        out[k] = [float(lo), float(hi)]
    return out
