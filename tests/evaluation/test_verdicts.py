"""[harden] verdicts that do not flatter: baselines on every headline metric, collapse against
the true label distribution, calibration applied where it helps."""

from __future__ import annotations

import numpy as np

from tunewise.evaluation import checks
from tunewise.evaluation.calibration import apply_temperature, calibration_report
from tunewise.evaluation.metrics import classification_metrics

LABELS = ["ABBR", "DESC", "ENTY", "HUM"]


def _trec_like():
    # imbalanced: ABBR is rare; the model is more accurate but never predicts ABBR
    y = np.array([0] * 9 + [1] * 100 + [2] * 90 + [3] * 100)
    model = y.copy()
    model[:9] = 1  # ABBR given up
    base = y.copy()
    base[9:60] = 2  # the baseline errs on DESC more, but keeps ABBR
    return classification_metrics(y, model, LABELS), classification_metrics(y, base, LABELS)


def test_the_verdict_reads_macro_f1_on_imbalanced_data_and_names_given_up_classes():
    model, base = _trec_like()
    assert model["accuracy"] > base["accuracy"]  # accuracy alone would flatter
    assert checks.headline_metrics(model) == ["accuracy", "macro_f1"]
    v = checks.compare_to_baselines(model, {"tfidf_logreg": base})
    assert not v["ok"]
    assert v["given_up_classes"] == ["ABBR"]
    assert "beats tfidf_logreg on accuracy" in v["message"]
    assert "'ABBR' (0 of 9 test rows recalled)" in v["message"]
    if model["macro_f1"] <= base["macro_f1"]:
        assert "does not beat the tfidf_logreg baseline on test macro_f1" in v["message"]


def test_balanced_data_compares_on_accuracy():
    y = np.array([0, 1] * 50)
    m = classification_metrics(y, y, ["a", "b"])
    b = classification_metrics(y, np.zeros_like(y), ["a", "b"])
    v = checks.compare_to_baselines(m, {"majority": b})
    assert v["ok"] and v["metrics"] == ["accuracy"] and "beats majority on accuracy" in v["message"]


def test_collapse_compares_with_the_true_distribution():
    gold = np.array([0] * 50 + [1] * 50)
    pred = np.array([0] * 99 + [1])  # 99% one class: not 100%, still collapsed
    c = checks.collapse(pred, ["a", "b"], gold)
    assert not c["ok"] and c["total_variation"] >= 0.25
    assert "total variation" in c["message"]
    ok = checks.collapse(gold.copy(), ["a", "b"], gold)
    assert ok["ok"] and ok["zero_recall_classes"] == []
    rare = np.array([0] * 95 + [1] * 5)
    c = checks.collapse(np.zeros(100, dtype=int) | (np.arange(100) == 3), ["a", "b"], rare)
    assert not c["ok"] and c["zero_recall_classes"] == ["b"]


def test_temperature_applied_by_default_where_it_lowers_dev_nll():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    logits = np.stack([np.where(y == 0, 1.0, -1.0), np.where(y == 1, 1.0, -1.0)], 1) * 8
    logits += rng.normal(0, 6, logits.shape)  # overconfident: a temperature > 1 helps
    rep = calibration_report(logits[:200], y[:200], logits[200:], y[200:])
    assert apply_temperature(rep) == rep["temperature"] and rep["applied"]
    assert rep["dev_nll_scaled"] < rep["dev"]["nll"] and rep["decision"].startswith("applied")
    rep2 = calibration_report(logits[:200], y[:200], logits[200:], y[200:])
    assert apply_temperature(rep2, enabled=False) is None
    assert not rep2["applied"] and "--no-calibrate" in rep2["decision"]
