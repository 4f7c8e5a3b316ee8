"""Top-k metrics of a recommender with several relevant items per user: Recall@10/50 (share
of the user's held-out items in the top k), nDCG@10 (binary gains), MRR (reciprocal rank of
the first held-out item), catalog coverage (share of candidate items in anyone's top 10), with
percentile bootstrap intervals over users (``tunewise.evaluation.stats.bootstrap_means``, as
retrieval's metrics)."""

from __future__ import annotations

import numpy as np

from tunewise.tasks.retrieval.metrics import full_ranking

KEYS = ("recall_at_10", "recall_at_50", "ndcg_at_10", "mrr")
CI_METHOD = "percentile bootstrap over users, 1000 resamples, 95%"


def rank_candidates(
    scores: np.ndarray, candidates: np.ndarray, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(item indices best first per user, candidates per user): candidates only
    (``candidates`` a bool [users, items] mask; the excluded sink to the end and are cut).

    Ties are broken in a seeded random order of the items, the same for every system: broken
    by index they would rank the catalog's first ids first, and item ids often follow the
    order items were added (MovieLens's do), which would score a system that knows nothing
    about cold-start items (popularity, item-kNN: all zero) as if it did."""
    perm = np.random.default_rng(seed).permutation(scores.shape[1])
    masked = np.where(candidates, scores, -np.inf)[:, perm]
    return perm[full_ranking(masked)], candidates.sum(1)


def per_user(order: np.ndarray, n_cand: np.ndarray, relevant: list[list[int]]) -> dict:
    out = {k: np.zeros(len(relevant)) for k in KEYS}
    discounts = 1.0 / np.log2(np.arange(2, 12))
    for u, rel in enumerate(relevant):
        rel_set = set(rel)
        row = order[u, : int(n_cand[u])]
        hit = np.fromiter((int(i) in rel_set for i in row), bool, len(row))
        if not rel_set:
            continue
        out["recall_at_10"][u] = hit[:10].sum() / len(rel_set)
        out["recall_at_50"][u] = hit[:50].sum() / len(rel_set)
        ideal = discounts[: min(len(rel_set), 10)].sum()
        out["ndcg_at_10"][u] = (hit[:10] * discounts[: len(hit[:10])]).sum() / ideal
        first = np.flatnonzero(hit)
        out["mrr"][u] = 1.0 / (first[0] + 1) if len(first) else 0.0
    return out


def summarize(scores: np.ndarray, candidates: np.ndarray, relevant: list[list[int]]) -> dict:
    """Metrics (means over users), their intervals, and coverage of the top 10."""
    from tunewise.evaluation.stats import bootstrap_means

    order, n_cand = rank_candidates(scores, candidates)
    pu = per_user(order, n_cand, relevant)
    out: dict = {"users": len(relevant)}
    out.update({k: float(v.mean()) if len(v) else 0.0 for k, v in pu.items()})
    top = {int(i) for row, n in zip(order[:, :10], n_cand) for i in row[: min(10, int(n))]}
    pool = int(candidates.any(0).sum())
    out["coverage_at_10"] = len(top) / max(pool, 1)
    if len(relevant) > 1:
        out["ci"] = bootstrap_means(pu)
        out["ci_method"] = CI_METHOD
    return out
