"""Finding likely label errors with confident learning (Northcutt, Jiang and Chuang, JAIR 2021).

Out-of-fold probabilities come from a logistic regression on fixed features (for instance the
fine-tuned encoder's sentence embeddings), so no row is scored by a model that saw its label.
A row is a likely error when it confidently belongs to another class: its probability for that
class reaches the class's threshold (the mean probability the class gets on rows labeled with
it), i.e. it lands off the diagonal of the confident joint. This is cleanlab's
``filter_by="confident_learning"`` in a few lines of numpy, without the dependency.
"""

from __future__ import annotations

import warnings

import numpy as np


def out_of_fold_probs(
    features, y, folds: int = 5, seed: int = 0, n_labels: int | None = None
) -> np.ndarray:
    """Class probabilities for every row from a model trained on the other folds.

    A scaled logistic regression per fold, stratified by label. A class too rare to appear in a
    fold's training part gets probability 0 on that fold's rows (its rows then look suspicious,
    which for a class with one or two examples is worth a look anyway).

    Args:
        features: [rows, dims] fixed features.
        y: class ids 0..C-1.
        n_labels: number of classes C [largest id + 1].

    Returns:
        [rows, C] probabilities.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    if x.ndim != 2 or y.shape != (len(x),):
        raise ValueError(f"features of shape {x.shape} for labels of shape {y.shape}")
    c = max(int(y.max()) + 1, n_labels or 0)
    # StratifiedKFold needs at least `folds` rows in the largest class and 2 folds.
    k = max(2, min(folds, int(np.bincount(y).max()), len(y)))
    probs = np.zeros((len(y), c))
    split = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*least populated class.*")
        parts = list(split.split(x, y))
    from tunewise.progress import current_ticker

    ticker = current_ticker()
    for i, (train, test) in enumerate(parts):
        if ticker:
            ticker.tick(i, len(parts), "folds")
        present = np.unique(y[train])
        if len(present) == 1:
            probs[np.ix_(test, present)] = 1.0
            continue
        clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        clf.fit(x[train], y[train])
        probs[np.ix_(test, clf.classes_)] = clf.predict_proba(x[test])
    return probs


def _thresholds(probs: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per class: the mean probability of that class over rows labeled with it."""
    c = probs.shape[1]
    count = np.bincount(y, minlength=c)
    total = np.zeros(c)
    np.add.at(total, y, probs[np.arange(len(y)), y])
    # A class nobody is labeled with never claims a row.
    return np.divide(total, count, out=np.full(c, np.inf), where=count > 0)


def confident_joint(probs, y) -> tuple[np.ndarray, np.ndarray]:
    """The confident joint and each row's confident class.

    Returns:
        ``(joint, suggested)``: ``joint[i, j]`` counts rows labeled ``i`` whose confident class
        is ``j``; ``suggested[r]`` is row r's confident class (the most probable class whose
        probability reaches its threshold), or -1 when no class does.
    """
    probs = np.asarray(probs, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    if probs.ndim != 2 or y.shape != (len(probs),):
        raise ValueError(f"probabilities of shape {probs.shape} for labels of shape {y.shape}")
    c = probs.shape[1]
    above = probs >= _thresholds(probs, y)[None, :] - 1e-12
    masked = np.where(above, probs, -np.inf)
    suggested = np.where(above.any(axis=1), masked.argmax(axis=1), -1)
    ok = suggested >= 0
    joint = np.bincount(y[ok] * c + suggested[ok], minlength=c * c).reshape(c, c)
    return joint, suggested


def label_issues(probs, y, top: int = 50, rank_by: str = "self_confidence") -> list[dict]:
    """Rows whose given label is likely wrong, most suspicious first.

    Confident learning as cleanlab defines it: cleanlab 2.9.0's
    ``find_label_issues(filter_by="confident_learning")`` flags exactly these rows (Jaccard
    1.000 on 5,000 rows with 10% flipped labels, benchmarks/bench_libraries.py). Kept here
    because it also names the suggested class the report shows, in 60 lines, where cleanlab
    would add two pinned packages (cleanlab, termcolor) for the same rows.

    Args:
        probs: [rows, C] out-of-fold probabilities (see :func:`out_of_fold_probs`).
        y: given class ids.
        top: at most this many rows.
        rank_by: ``self_confidence`` (lowest probability of the given label first) or
            ``normalized_margin`` (p(given) - max other p, lowest first).

    Returns:
        ``[{"row", "given", "suggested", "self_confidence", "suggested_confidence"}]``.
    """
    probs = np.asarray(probs, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    _, suggested = confident_joint(probs, y)
    rows = np.flatnonzero((suggested >= 0) & (suggested != y))
    idx = np.arange(len(y))
    self_conf = probs[idx, y]
    if rank_by == "self_confidence":
        score = self_conf
    elif rank_by == "normalized_margin":
        others = probs.copy()
        others[idx, y] = -np.inf
        score = (self_conf - others.max(axis=1) + 1) / 2
    else:
        raise ValueError(f"unknown rank_by {rank_by!r}; use self_confidence or normalized_margin")
    rows = rows[np.argsort(score[rows], kind="stable")][:top]
    return [
        {
            "row": int(r),
            "given": int(y[r]),
            "suggested": int(suggested[r]),
            "self_confidence": float(self_conf[r]),
            "suggested_confidence": float(probs[r, suggested[r]]),
        }
        for r in rows
    ]
