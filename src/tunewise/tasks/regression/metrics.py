"""Regression metrics over a whole split, their bootstrap intervals, and the baselines: the
train mean, and TF-IDF + ridge regression (alpha chosen on dev)."""

from __future__ import annotations

import numpy as np

KEYS = ("rmse", "mae", "pearson", "spearman")


def _corr(a: np.ndarray, b: np.ndarray, kind: str) -> float | None:
    from scipy.stats import pearsonr, spearmanr

    if len(a) < 2 or np.std(a) == 0 or np.std(b) == 0:
        return None  # undefined for a constant prediction (the mean baseline)
    fn = pearsonr if kind == "pearson" else spearmanr
    return float(fn(a, b)[0])


def regression_metrics(y: np.ndarray, pred: np.ndarray) -> dict:
    """RMSE, MAE, Pearson and Spearman correlation, R², over every row at once."""
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    y = np.asarray(y, dtype=np.float64)
    pred = np.asarray(pred, dtype=np.float64)
    if len(y) != len(pred):
        raise RuntimeError(f"{len(pred)} predictions for {len(y)} rows")
    return {
        "n": int(len(y)),
        "rmse": float(np.sqrt(mean_squared_error(y, pred))),
        "mae": float(mean_absolute_error(y, pred)),
        "pearson": _corr(y, pred, "pearson"),
        "spearman": _corr(y, pred, "spearman"),
        "r2": float(r2_score(y, pred)) if len(y) > 1 else None,
    }


def bootstrap_intervals(y, pred, n_boot: int = 1000, seed: int = 0) -> dict:
    """Percentile bootstrap 95% intervals of every metric, resampling rows."""
    y = np.asarray(y, dtype=np.float64)
    pred = np.asarray(pred, dtype=np.float64)
    rng = np.random.default_rng(seed)
    draws: dict[str, list] = {k: [] for k in KEYS}
    for _ in range(n_boot):
        idx = rng.integers(0, len(y), size=len(y))
        m = regression_metrics(y[idx], pred[idx])
        for k in KEYS:
            if m[k] is not None:
                draws[k].append(m[k])
    return {
        k: [float(np.quantile(v, 0.025)), float(np.quantile(v, 0.975))]
        for k, v in draws.items()
        if len(v) > 1
    }


def _text(e) -> str:
    return e.text if e.text_pair is None else f"{e.text} [SEP] {e.text_pair}"


def baselines(train, dev, test) -> dict:
    """Test metrics of the train mean and of TF-IDF (word 1-2 grams) + ridge regression."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import Ridge

    y_train = np.array([e.label for e in train], dtype=np.float64)
    y_test = np.array([e.label for e in test], dtype=np.float64)
    mean = float(y_train.mean())
    out = {"mean": regression_metrics(y_test, np.full_like(y_test, mean)) | {"predicts": mean}}
    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)
    x = vec.fit_transform([_text(e) for e in train])
    grid = (0.3, 1.0, 3.0, 10.0) if dev else (1.0,)
    fits = {a: Ridge(alpha=a).fit(x, y_train) for a in grid}
    if dev:
        xd = vec.transform([_text(e) for e in dev])
        yd = np.array([e.label for e in dev], dtype=np.float64)
        best = min(grid, key=lambda a: float(np.mean((fits[a].predict(xd) - yd) ** 2)))
    else:
        best = 1.0
    pred = fits[best].predict(vec.transform([_text(e) for e in test]))
    out["tfidf_ridge"] = regression_metrics(y_test, pred) | {"alpha": best}
    return out


def compare_to_baselines(test: dict, base: dict) -> dict:
    """Whether the model beats every baseline on RMSE (and, where defined, Spearman)."""
    behind, parts = [], []
    for name, b in base.items():
        d = b["rmse"] - test["rmse"]
        parts.append(f"{name} RMSE {b['rmse']:.4f} ({-d:+.4f})")
        if d <= 0:
            behind.append(f"{name} on RMSE")
        if b.get("spearman") is not None and test.get("spearman") is not None:
            if test["spearman"] <= b["spearman"]:
                behind.append(f"{name} on Spearman")
    msg = (
        f"the model does not beat {', '.join(behind)}"
        if behind
        else f"beats every baseline: test RMSE {test['rmse']:.4f} vs " + ", ".join(parts)
    )
    return {"ok": not behind, "metric": "rmse", "message": msg}
