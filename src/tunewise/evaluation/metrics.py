"""Classification metrics, computed once over a whole split with scikit-learn."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    matthews_corrcoef,
    precision_recall_fscore_support,
)


def _per_class(y_true, y_pred, labels: list[str]) -> dict:
    p, r, f, s = precision_recall_fscore_support(
        y_true, y_pred, labels=list(range(len(labels))), zero_division=0
    )
    return {
        name: {
            "precision": float(p[i]),
            "recall": float(r[i]),
            "f1": float(f[i]),
            "support": int(s[i]),
        }
        for i, name in enumerate(labels)
    }


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, labels: list[str]) -> dict:
    """Accuracy, macro/micro F1, MCC, per-class P/R/F1/support and the confusion matrix.

    Args:
        y_true, y_pred: class ids, one per row of the split.
        labels: class names in id order.
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise RuntimeError(f"{len(y_pred)} predictions for {len(y_true)} rows")
    ids = list(range(len(labels)))
    return {
        "n": int(len(y_true)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=ids, average="macro", zero_division=0)),
        "micro_f1": float(f1_score(y_true, y_pred, labels=ids, average="micro", zero_division=0)),
        "mcc": float(matthews_corrcoef(y_true, y_pred)),
        "per_class": _per_class(y_true, y_pred, labels),
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=ids).tolist(),
        "labels": list(labels),
    }


def multilabel_metrics(y_true: np.ndarray, y_pred: np.ndarray, labels: list[str]) -> dict:
    """Subset accuracy, macro/micro F1, mean per-class MCC, per-class P/R/F1/support.

    Args:
        y_true, y_pred: 0/1 matrices [rows, classes].
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise RuntimeError(f"{len(y_pred)} predictions for {len(y_true)} rows")
    mccs = [
        matthews_corrcoef(y_true[:, j], y_pred[:, j]) if len(set(y_true[:, j])) > 1 else 0.0
        for j in range(y_true.shape[1])
    ]
    return {
        "n": int(len(y_true)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
        "micro_f1": float(f1_score(y_true, y_pred, average="micro", zero_division=0)),
        "mcc": float(np.mean(mccs)),
        "per_class": _per_class(y_true, y_pred, labels),
        "labels": list(labels),
    }


def majority_baseline(
    train_y: np.ndarray, test_y: np.ndarray, labels: list[str], multi_label: bool
) -> dict:
    """Predict train's most frequent class (multi-label: each label present in >half of train)."""
    if multi_label:
        pred = np.tile((train_y.mean(axis=0) > 0.5).astype(np.int64), (len(test_y), 1))
        out = multilabel_metrics(test_y.astype(np.int64), pred, labels)
        out["predicts"] = [l for l, on in zip(labels, pred[0]) if on] if len(pred) else []
        return out
    top = int(np.bincount(train_y, minlength=len(labels)).argmax())
    out = classification_metrics(test_y, np.full_like(test_y, top), labels)
    out["predicts"] = labels[top]
    return out
