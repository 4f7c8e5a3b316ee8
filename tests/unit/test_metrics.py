import numpy as np
import pytest

from tunewise.evaluation.metrics import (
    classification_metrics,
    majority_baseline,
    multilabel_metrics,
)


def test_metrics_by_hand():
    # 6 rows, classes a/b/c; 4 right.
    y = np.array([0, 0, 1, 1, 2, 2])
    p = np.array([0, 1, 1, 1, 2, 0])
    m = classification_metrics(y, p, ["a", "b", "c"])
    assert m["n"] == 6
    assert m["accuracy"] == pytest.approx(4 / 6)
    # a: P 1/2 R 1/2 F 1/2; b: P 2/3 R 1 F .8; c: P 1 R 1/2 F 2/3
    assert m["per_class"]["b"]["precision"] == pytest.approx(2 / 3)
    assert m["per_class"]["c"]["recall"] == pytest.approx(0.5)
    assert m["macro_f1"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    assert m["micro_f1"] == pytest.approx(4 / 6)
    assert m["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert m["per_class"]["a"]["support"] == 2


def test_whole_split_not_batch_average():
    # Batch-averaged accuracy over unequal batches differs from the true value.
    y = np.array([1] * 10 + [0])
    p = np.array([1] * 10 + [1])
    assert classification_metrics(y, p, ["0", "1"])["accuracy"] == pytest.approx(10 / 11)


def test_count_mismatch_is_an_error():
    with pytest.raises(RuntimeError, match="3 predictions for 4 rows"):
        classification_metrics(np.zeros(4, int), np.zeros(3, int), ["a"])


def test_multilabel_and_baseline():
    y = np.array([[1, 0], [1, 1], [0, 1]])
    m = multilabel_metrics(y, np.array([[1, 0], [1, 0], [0, 1]]), ["x", "y"])
    assert m["accuracy"] == pytest.approx(2 / 3)
    assert m["micro_f1"] == pytest.approx(2 * 3 / (2 * 3 + 1))
    b = majority_baseline(np.array([0, 0, 1]), np.array([0, 1, 1, 1]), ["a", "b"], False)
    assert b["predicts"] == "a" and b["accuracy"] == pytest.approx(0.25)
