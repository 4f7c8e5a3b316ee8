"""ECE, Brier, reliability and temperature scaling on synthetic data with known answers."""

import numpy as np
import pytest

from tunewise.evaluation import calibration as cal


def _synthetic(n, seed, scale=1.0):
    """Logits whose softmax is the true class distribution; ``scale`` > 1 makes them overconfident."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 2, (n, 3))
    p = cal.softmax(logits)
    y = (rng.random((n, 1)) > p.cumsum(axis=1)).sum(axis=1)
    return logits * scale, y


def test_softmax_is_stable_and_normalized():
    p = cal.softmax([[1000.0, 0.0], [0.0, 0.0]])
    assert np.allclose(p, [[1, 0], [0.5, 0.5]])


def test_brier_by_hand():
    probs = np.array([[0.7, 0.2, 0.1], [0.5, 0.5, 0.0]])
    y = np.array([0, 2])
    # row 0: 0.3^2 + 0.2^2 + 0.1^2 = 0.14; row 1: 0.25 + 0.25 + 1 = 1.5
    assert cal.brier(probs, y) == pytest.approx((0.14 + 1.5) / 2)


def test_ece_and_reliability_by_hand():
    probs = np.array([[0.95, 0.05], [0.95, 0.05], [0.6, 0.4], [0.3, 0.7]])
    y = np.array([0, 1, 0, 1])
    bins = cal.reliability(probs, y, n_bins=10)
    top = bins[9]  # (0.9, 1.0]: two rows at 0.95, one right
    assert top["count"] == 2 and top["confidence"] == pytest.approx(0.95)
    assert top["accuracy"] == 0.5
    assert bins[0]["count"] == 0 and bins[0]["accuracy"] is None
    # |0.5-0.95|*2/4 + |1-0.6|/4 + |1-0.7|/4
    assert cal.ece(probs, y, n_bins=10) == pytest.approx(0.225 + 0.1 + 0.075)


def test_ece_calibrated_small_overconfident_large():
    logits, y = _synthetic(4000, 0)
    assert cal.ece(cal.softmax(logits), y) < 0.03
    assert cal.ece(cal.softmax(logits * 4), y) > 0.1


def test_temperature_scaling_fixes_overconfidence_on_held_out_data():
    dev_logits, dev_y = _synthetic(2000, 1, scale=3.0)
    test_logits, test_y = _synthetic(2000, 2, scale=3.0)
    t = cal.fit_temperature(dev_logits, dev_y)
    assert 2.5 < t < 3.5  # the true answer is 3
    r = cal.calibration_report(dev_logits, dev_y, test_logits, test_y)
    assert r["temperature"] == pytest.approx(t)
    assert r["test_scaled"]["nll"] < r["test"]["nll"]
    assert r["test_scaled"]["ece"] < r["test"]["ece"] / 2
    assert r["test_scaled"]["brier"] < r["test"]["brier"]
    assert len(r["dev"]["reliability"]) == 15
    assert r["test"]["nll"] == pytest.approx(cal.nll(cal.softmax(test_logits), test_y))


def test_underconfident_logits_give_t_below_one():
    logits, y = _synthetic(2000, 3, scale=0.5)
    assert cal.fit_temperature(logits, y) < 0.7
