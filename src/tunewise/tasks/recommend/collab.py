"""The collaborative and trivial recommenders a text model is measured against: item-kNN
(cosine between item columns of the user x item matrix of liked training items, scipy
sparse), ALS matrix factorisation from the ``implicit`` library when it is installed
(``pip install implicit``, the ``recommend`` extra), popularity (liked-in-training counts) and
random scores."""

from __future__ import annotations

import numpy as np
from scipy import sparse


def interaction_matrix(users: list[dict], n_items: int) -> sparse.csr_matrix:
    rows, cols = [], []
    for u, rec in enumerate(users):
        for i in set(rec["train"]):
            rows.append(u)
            cols.append(i)
    data = np.ones(len(rows), dtype=np.float32)
    return sparse.csr_matrix((data, (rows, cols)), shape=(len(users), n_items))


def item_knn(x: sparse.csr_matrix, neighbours: int = 100) -> sparse.csr_matrix:
    """Item-item cosine similarities, each item's ``neighbours`` most similar kept, no self."""
    norms = np.sqrt(np.asarray(x.multiply(x).sum(0)).ravel())
    norms[norms == 0] = 1.0
    xn = x @ sparse.diags(1.0 / norms)
    sim = (xn.T @ xn).toarray()
    np.fill_diagonal(sim, 0.0)
    if neighbours < sim.shape[1]:
        drop = np.argpartition(-sim, neighbours, axis=1)[:, neighbours:]
        np.put_along_axis(sim, drop, 0.0, axis=1)
    return sparse.csr_matrix(sim)


def knn_scores(sim: sparse.csr_matrix, history: list[list[int]]) -> np.ndarray:
    """[users, items] item-kNN scores: the sum of each item's similarities to the history."""
    n = sim.shape[0]
    h = interaction_matrix([{"train": r} for r in history], n)
    return np.asarray((h @ sim).todense(), dtype=np.float32)


def popularity(x: sparse.csr_matrix) -> np.ndarray:
    return np.asarray(x.sum(0), dtype=np.float32).ravel()


def random_scores(n_users: int, n_items: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n_users, n_items), dtype=np.float32)


def minmax(scores: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Each row scaled to [0, 1] over its candidates (``mask`` True), so two scorers mix."""
    big = np.where(mask, scores, np.nan)
    lo = np.nanmin(big, axis=1, keepdims=True)
    hi = np.nanmax(big, axis=1, keepdims=True)
    span = np.where(hi - lo > 0, hi - lo, 1.0)
    return np.nan_to_num((scores - lo) / span)


def als_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("implicit") is not None


def als_scores(x: sparse.csr_matrix, rows: list[int], seed: int = 0, **params) -> np.ndarray:
    """[len(rows), items] scores of ``implicit``'s AlternatingLeastSquares fitted on the user x
    item matrix ``x`` (liked training items, binary; the library's defaults unless
    ``params``): each listed user's factors against every item's. Items nobody liked in
    training get (near) zero factors."""
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, "blas"):  # implicit's advice: its own threads, BLAS single
        model = AlternatingLeastSquares(random_state=seed, **params)
        model.fit(x.tocsr().astype(np.float32), show_progress=False)
    users = np.asarray(model.user_factors)[np.asarray(rows, dtype=np.int64)]
    return (users @ np.asarray(model.item_factors).T).astype(np.float32)
