"""Confident learning finds deliberately flipped labels."""

import numpy as np

from tunewise.evaluation import noise


def _blobs(n=400, flip=0.05, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.normal(0, 1, (n, 2)) + np.where(y[:, None] == 1, 3.0, -3.0)
    flipped = rng.choice(n, int(n * flip), replace=False)
    given = y.copy()
    given[flipped] = 1 - given[flipped]
    return x, given, set(flipped.tolist())


def test_flipped_labels_are_found():
    x, given, flipped = _blobs()
    probs = noise.out_of_fold_probs(x, given, folds=5)
    assert probs.shape == (400, 2) and np.allclose(probs.sum(axis=1), 1)
    for rank_by in ("self_confidence", "normalized_margin"):
        issues = noise.label_issues(probs, given, top=50, rank_by=rank_by)
        found = {i["row"] for i in issues}
        assert len(found & flipped) / len(found) >= 0.7  # precision
        assert len(found & flipped) >= 0.8 * len(flipped)  # recall
        i = issues[0]
        assert i["row"] in flipped and i["suggested"] == 1 - i["given"]
        assert i["self_confidence"] < 0.5 < i["suggested_confidence"]
    sc = noise.label_issues(probs, given, top=5)
    assert len(sc) == 5 and [i["self_confidence"] for i in sc] == sorted(
        i["self_confidence"] for i in sc
    )


def test_confident_joint_by_hand():
    probs = np.array([[0.9, 0.1], [0.7, 0.3], [0.2, 0.8], [0.8, 0.2]])
    y = np.array([0, 0, 1, 1])
    # thresholds: class 0 = mean(0.9, 0.7) = 0.8, class 1 = mean(0.8, 0.2) = 0.5
    joint, suggested = noise.confident_joint(probs, y)
    assert suggested.tolist() == [0, -1, 1, 0]
    assert joint.tolist() == [[1, 0], [1, 1]]
    assert [i["row"] for i in noise.label_issues(probs, y)] == [3]


def test_rare_class_does_not_crash():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 3))
    y = np.array([0] * 14 + [1] * 14 + [2] * 2)
    probs = noise.out_of_fold_probs(x, y, folds=5)
    assert probs.shape == (30, 3) and np.isfinite(probs).all()
