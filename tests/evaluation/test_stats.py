"""Bootstrap intervals, paired tests, seed summaries and the verdict against hand computations."""

import numpy as np
import pytest
from sklearn.metrics import f1_score, matthews_corrcoef

from tunewise.evaluation import stats


def _preds(n, acc, seed=0, c=3):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, n)
    wrong = (y + rng.integers(1, c, n)) % c
    return y, np.where(rng.random(n) < acc, y, wrong)


def test_vectorized_metrics_match_sklearn():
    y, p = _preds(500, 0.6, c=4)
    p[p == 3] = 2  # a class never predicted: macro-F1 still averages over all 4
    assert stats._point(y, p, "macro_f1", 4) == pytest.approx(
        f1_score(y, p, labels=range(4), average="macro", zero_division=0)
    )
    assert stats._point(y, p, "mcc", 4) == pytest.approx(matthews_corrcoef(y, p))
    assert stats._point(y, p, "micro_f1", 4) == pytest.approx(np.mean(y == p))


@pytest.mark.parametrize("metric", stats.METRICS)
def test_bootstrap_ci_contains_estimate_and_narrows(metric):
    widths = []
    for n in (200, 2000):
        y, p = _preds(n, 0.7)
        lo, hi = stats.bootstrap_ci(y, p, metric, n_boot=500)
        assert lo <= stats._point(y, p, metric, 3) <= hi
        widths.append(hi - lo)
    assert widths[1] < widths[0] / 2  # ~1/sqrt(10) expected


def test_bootstrap_ci_is_deterministic_and_fast():
    import time

    y, p = _preds(2000, 0.8)
    t = time.perf_counter()
    a = stats.bootstrap_ci(y, p, "accuracy", n_boot=1000, seed=3)
    assert time.perf_counter() - t < 1.0
    assert a == stats.bootstrap_ci(y, p, "accuracy", n_boot=1000, seed=3)


def test_metric_intervals_keys():
    y, p = _preds(100, 0.7)
    out = stats.metric_intervals(y, p, n_labels=3, n_boot=200)
    assert set(out) == {"accuracy", "macro_f1", "micro_f1", "mcc"}
    assert all(lo <= hi for lo, hi in out.values())
    assert out["accuracy"] == out["micro_f1"]


def test_paired_bootstrap_identical_predictions():
    y, p = _preds(300, 0.7)
    r = stats.paired_bootstrap(y, p, p, n_boot=500)
    assert r["delta"] == 0 and r["p_value"] == 1.0 and r["ci"] == [0.0, 0.0]
    assert r["a"] == r["b"] == pytest.approx(np.mean(y == p))


def test_paired_bootstrap_clearly_better_b():
    y, a = _preds(1000, 0.7, seed=1)
    _, b = _preds(1000, 0.9, seed=1)
    for metric in ("accuracy", "macro_f1"):
        r = stats.paired_bootstrap(y, a, b, metric, n_boot=2000)
        assert r["delta"] > 0.1 and r["p_value"] < 0.01 and r["ci"][0] > 0
    # Same comparison the other way round: the sign flips, the evidence does not.
    r = stats.paired_bootstrap(y, b, a, n_boot=2000)
    assert r["delta"] < -0.1 and r["p_value"] < 0.01 and r["ci"][1] < 0


def test_paired_bootstrap_small_difference_is_not_significant():
    y, a = _preds(100, 0.7, seed=2)
    b = a.copy()
    fix = np.flatnonzero(b != y)[:1]
    b[fix] = y[fix]  # B gets exactly one more row right
    r = stats.paired_bootstrap(y, a, b, n_boot=2000)
    assert r["delta"] == pytest.approx(0.01) and r["p_value"] > 0.2


def test_mcnemar_exact_matches_hand_binomial():
    # A alone right on 2 rows, B alone right on 8, both right on 5, both wrong on 5.
    y = np.zeros(20, dtype=int)
    a = np.array([0] * 2 + [1] * 8 + [0] * 5 + [1] * 5)
    b = np.array([1] * 2 + [0] * 8 + [0] * 5 + [1] * 5)
    r = stats.mcnemar(y, a, b)
    # Two-sided exact: 2 * P(X <= 2), X ~ Bin(10, 1/2) = 2 * (1 + 10 + 45) / 1024
    assert r["exact"] and (r["a_only_right"], r["b_only_right"]) == (2, 8)
    assert r["p_value"] == pytest.approx(2 * 56 / 1024)


def test_mcnemar_chi_square_with_continuity():
    y = np.zeros(60, dtype=int)
    a = np.array([0] * 10 + [1] * 30 + [0] * 20)
    b = np.array([1] * 10 + [0] * 30 + [0] * 20)
    r = stats.mcnemar(y, a, b)
    assert not r["exact"] and r["statistic"] == pytest.approx((20 - 1) ** 2 / 40)
    from scipy.stats import chi2

    assert r["p_value"] == pytest.approx(chi2.sf(361 / 40, 1))
    assert stats.mcnemar(y, a, a)["p_value"] == 1.0


def test_seed_summary_and_summarize_seeds():
    s = stats.seed_summary([0.8, 0.9, 1.0])
    assert s["mean"] == pytest.approx(0.9) and s["std"] == pytest.approx(0.1)
    assert (s["min"], s["max"], s["n"]) == (0.8, 1.0, 3)
    assert stats.seed_summary([0.5])["std"] == 0.0
    out = stats.summarize_seeds([{"accuracy": 0.5, "mcc": 0.1}, {"accuracy": 0.7, "mcc": 0.3}])
    assert set(out) == {"accuracy", "mcc"} and out["accuracy"]["mean"] == pytest.approx(0.6)


def test_verdict_sentences():
    real = {
        "metric": "accuracy",
        "a": 0.80,
        "b": 0.821,
        "delta": 0.021,
        "ci": [0.008, 0.034],
        "p_value": 0.002,
        "n_boot": 10000,
        "level": 0.95,
    }
    s = stats.verdict(real, {"p_value": 0.004})
    assert s == (
        "B is better than A by 2.1 points of accuracy (95% CI 0.8 to 3.4; "
        "paired bootstrap p=0.002, McNemar p=0.004): the difference is real."
    )
    chance = {**real, "delta": -0.01, "ci": [-0.03, 0.01], "p_value": 0.31}
    s = stats.verdict(chance, {"p_value": 0.4})
    assert s.startswith("A is better than B by 1.0 points of accuracy (95% CI -1.0 to 3.0")
    assert s.endswith(
        ": the difference could be chance (p=0.4); more test rows or seeds would be needed to tell."
    )
    # The tests must agree before a difference is called real.
    assert "could be chance" in stats.verdict(real, {"p_value": 0.2})
