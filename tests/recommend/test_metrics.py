"""Top-k metrics with several relevant items per user, seen items excluded, and item-kNN."""

from __future__ import annotations

import numpy as np
import pytest

from tunewise.tasks.recommend.collab import interaction_matrix, item_knn, knn_scores, popularity
from tunewise.tasks.recommend.metrics import summarize


def test_metrics_of_a_known_ranking():
    scores = np.array([[5.0, 4.0, 3.0, 2.0, 1.0, 0.0]])
    cand = np.ones_like(scores, dtype=bool)
    m = summarize(scores, cand, [[1, 3]])
    assert m["recall_at_10"] == 1.0
    assert m["mrr"] == pytest.approx(1 / 2)
    dcg = 1 / np.log2(3) + 1 / np.log2(5)
    assert m["ndcg_at_10"] == pytest.approx(dcg / (1 + 1 / np.log2(3)))


def test_excluded_items_are_never_ranked():
    scores = np.array([[9.0, 1.0, 0.5], [9.0, 1.0, 0.5]])
    cand = np.array([[False, True, True], [True, True, True]])
    m = summarize(scores, cand, [[1], [1]])
    assert m["mrr"] == pytest.approx((1.0 + 0.5) / 2)
    assert m["coverage_at_10"] == 1.0 and "ci" in m


def test_item_knn_recommends_what_similar_users_liked():
    users = [{"train": [0, 1]}, {"train": [0, 1]}, {"train": [2, 3]}]
    x = interaction_matrix(users, 4)
    s = knn_scores(item_knn(x, 10), [[0]])
    assert s[0, 1] > 0 and s[0, 2] == 0 and s[0, 0] == 0
    assert popularity(x).tolist() == [2, 2, 1, 1]


def test_ties_are_not_broken_by_item_index():
    # a system with no signal (all scores equal) must score like chance, not like the first ids
    n = 200
    scores = np.zeros((50, n))
    cand = np.ones_like(scores, dtype=bool)
    m = summarize(scores, cand, [[0, 1, 2, 3, 4]] * 50)
    assert m["recall_at_10"] < 0.5


def test_als_ranks_the_items_of_a_users_taste_first():
    pytest.importorskip(
        "implicit", reason="the ALS baseline needs `implicit` (pip install implicit)"
    )
    from tunewise.tasks.recommend.collab import als_scores

    # two tastes: items 0-9 and 10-19; each user likes 6 of theirs
    rng = np.random.default_rng(0)
    users = [
        {"train": list(rng.choice(np.arange(10) + 10 * (u % 2), 6, replace=False))}
        for u in range(40)
    ]
    x = interaction_matrix(users, 20)
    s = als_scores(x, [0, 1], factors=4, iterations=10)
    assert s.shape == (2, 20)
    assert s[0, :10].mean() > s[0, 10:].mean() and s[1, 10:].mean() > s[1, :10].mean()
