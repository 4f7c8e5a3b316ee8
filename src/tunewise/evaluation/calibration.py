"""Calibration: does a 90% confident prediction come true 90% of the time?

Expected calibration error and reliability bins (Guo et al. 2017: equal-width bins of top-label
confidence), the multi-class Brier score, negative log-likelihood, and temperature scaling fitted
on dev logits and judged on test. Single-label classification; classes are ids 0..C-1.
"""

from __future__ import annotations

import numpy as np


def softmax(logits) -> np.ndarray:
    """Row-wise softmax, stable for large logits."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def _check(probs, y) -> tuple[np.ndarray, np.ndarray]:
    probs = np.asarray(probs, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    if probs.ndim != 2 or y.shape != (len(probs),):
        raise ValueError(f"probabilities of shape {probs.shape} for labels of shape {y.shape}")
    if len(y) == 0:
        raise ValueError("no rows")
    if y.min() < 0 or y.max() >= probs.shape[1]:
        raise ValueError(f"label ids must be in 0..{probs.shape[1] - 1}")
    return probs, y


def _bins(conf: np.ndarray, n_bins: int) -> np.ndarray:
    # Bins are (lo, hi]; confidence exactly 0 (impossible for a top label) goes to the first.
    return np.clip(np.ceil(conf * n_bins).astype(np.int64) - 1, 0, n_bins - 1)


def reliability(probs, y, n_bins: int = 15) -> list[dict]:
    """Top-label reliability diagram data: one entry per equal-width confidence bin.

    Returns:
        ``[{"lo", "hi", "count", "confidence", "accuracy"}]``; ``confidence`` (mean top-label
        probability) and ``accuracy`` are None for an empty bin.
    """
    probs, y = _check(probs, y)
    conf = probs.max(axis=1)
    right = (probs.argmax(axis=1) == y).astype(np.float64)
    b = _bins(conf, n_bins)
    count = np.bincount(b, minlength=n_bins)
    conf_sum = np.bincount(b, weights=conf, minlength=n_bins)
    right_sum = np.bincount(b, weights=right, minlength=n_bins)
    return [
        {
            "lo": i / n_bins,
            "hi": (i + 1) / n_bins,
            "count": int(count[i]),
            "confidence": float(conf_sum[i] / count[i]) if count[i] else None,
            "accuracy": float(right_sum[i] / count[i]) if count[i] else None,
        }
        for i in range(n_bins)
    ]


def ece(probs, y, n_bins: int = 15) -> float:
    """Expected calibration error: sum over bins of share of rows x |accuracy - confidence|."""
    bins = reliability(probs, y, n_bins)
    n = sum(b["count"] for b in bins)
    return float(
        sum(b["count"] / n * abs(b["accuracy"] - b["confidence"]) for b in bins if b["count"])
    )


def brier(probs, y) -> float:
    """Multi-class Brier score: mean over rows of sum_k (p_k - onehot_k)^2 (0 best, 2 worst)."""
    probs, y = _check(probs, y)
    onehot = np.zeros_like(probs)
    onehot[np.arange(len(y)), y] = 1.0
    return float(((probs - onehot) ** 2).sum(axis=1).mean())


def nll(probs, y) -> float:
    """Mean negative log-likelihood of the gold class (probabilities clipped at 1e-12)."""
    probs, y = _check(probs, y)
    return float(-np.log(np.clip(probs[np.arange(len(y)), y], 1e-12, None)).mean())


def _nll_logits(logits: np.ndarray, y: np.ndarray, t: float) -> float:
    return float(-_log_softmax(logits / t)[np.arange(len(y)), y].mean())


def fit_temperature(logits, y, lo: float = 0.05, hi: float = 20.0) -> float:
    """The temperature T > 0 minimizing the NLL of ``softmax(logits / T)`` (Guo et al. 2017).

    Searches log T on ``[log lo, log hi]`` (bounded Brent). Fit it on dev, never on test.
    """
    from scipy.optimize import minimize_scalar

    logits = np.asarray(logits, dtype=np.float64)
    logits, y = _check(logits, y)
    res = minimize_scalar(
        lambda log_t: _nll_logits(logits, y, float(np.exp(log_t))),
        bounds=(np.log(lo), np.log(hi)),
        method="bounded",
        options={"xatol": 1e-4},
    )
    return float(np.exp(res.x))


def _summary(logits: np.ndarray, y: np.ndarray, n_bins: int, t: float = 1.0) -> dict:
    probs = softmax(logits / t)
    return {
        "ece": ece(probs, y, n_bins),
        "brier": brier(probs, y),
        "nll": _nll_logits(logits, y, t),
        "reliability": reliability(probs, y, n_bins),
    }


def calibration_report(dev_logits, dev_y, test_logits, test_y, n_bins: int = 15) -> dict:
    """Calibration of test predictions before and after a temperature fitted on dev.

    Returns:
        ``{"temperature", "n_bins", "dev": {...}, "test": {...}, "test_scaled": {...}}``; each
        part holds ``ece``, ``brier``, ``nll`` and ``reliability`` (see :func:`reliability`).
    """
    dev_logits, dev_y = _check(dev_logits, dev_y)
    test_logits, test_y = _check(test_logits, test_y)
    t = fit_temperature(dev_logits, dev_y)
    return {
        "temperature": t,
        "n_bins": n_bins,
        "dev_nll_scaled": _nll_logits(dev_logits, dev_y, t),
        "dev": _summary(dev_logits, dev_y, n_bins),
        "test": _summary(test_logits, test_y, n_bins),
        "test_scaled": _summary(test_logits, test_y, n_bins, t),
    }


def apply_temperature(report: dict | None, enabled: bool = True) -> float | None:
    """Decide whether predictions use the dev-fitted temperature, and record why in
    ``report`` (``applied``, ``dev_nll_scaled``, ``decision``).

    The temperature is applied when ``enabled`` (``--no-calibrate`` turns it off) and it
    lowers the dev NLL; returns it then, else None (raw softmax)."""
    if not report:
        return None
    t = float(report["temperature"])
    before = float(report["dev"]["nll"])
    after = float(report.get("dev_nll_scaled", before))
    report["dev_nll_scaled"] = after
    lowers = after < before - 1e-6 and abs(t - 1.0) > 1e-3
    report["applied"] = bool(enabled and lowers)
    if not enabled:
        report["decision"] = "not applied: calibration turned off (--no-calibrate)"
    elif not lowers:
        report["decision"] = f"not applied: temperature {t:.3g} does not lower dev NLL"
    else:
        report["decision"] = (
            f"applied: temperature {t:.3g} lowers dev NLL {before:.4f} -> {after:.4f}"
        )
    return t if report["applied"] else None


def describe_temperature(t: float) -> str | None:
    """One line for `predict`: scores are calibrated (or None when they are raw softmax)."""
    if abs(float(t) - 1.0) < 1e-9:
        return None
    return (
        f"scores are calibrated: logits divided by a temperature of {t:.3g} fitted on dev "
        "(train with --no-calibrate for raw softmax); labels are unchanged"
    )
