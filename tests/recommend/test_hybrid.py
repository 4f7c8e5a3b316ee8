"""The hybrid's text weight is chosen on a validation split carved from training by time
(each user's last liked training item), never on the test."""

from __future__ import annotations

import numpy as np

from tunewise.tasks.recommend.evaluate import HYBRID_GRID, hybrid_validation


def _bundle(n_users: int = 12, n_items: int = 20) -> dict:
    """Two tastes (even / odd items); each user likes 6 items of theirs in time order, the
    last training one different per user, and has a warm test item."""
    users = {}
    for u in range(n_users):
        mine = [i for i in range(n_items) if i % 2 == u % 2]
        order = mine[u % len(mine) :] + mine[: u % len(mine)]
        train = order[:6]
        users[str(u)] = {"train": train, "seen": sorted(train), "warm_test": [order[6]]}
    texts = [f"item {i}" for i in range(n_items)]
    return {
        "items": {"ids": [str(i) for i in range(n_items)], "texts": texts, "titles": texts},
        "users": users,
        "cold_items": [],
        "split": {"min_train_items": 2},
    }


def test_an_informative_text_model_gets_the_weight():
    b = _bundle()
    p = np.eye(20, dtype=np.float32)
    # a text model that knows each user's next item: the query embeds as that item
    nxt = {}
    for r in b["users"].values():
        q = " | ".join(reversed([b["items"]["texts"][i] for i in r["train"][:-1]][-5:]))
        nxt[q] = r["train"][-1]

    def embed(texts):
        return np.stack([p[nxt[t]] for t in texts])

    v = hybrid_validation(b, 5, embed, p, neighbours=10)
    assert v["users"] == 12
    assert v["ndcg_at_10"]["1.0"] == 1.0
    assert v["weight"] > 0 and v["ndcg_at_10"][str(v["weight"])] == 1.0


def test_an_uninformative_text_model_leaves_it_to_item_knn():
    b = _bundle()
    p = np.eye(20, dtype=np.float32)
    rng = np.random.default_rng(0)

    def embed(texts):
        e = rng.standard_normal((len(texts), 20)).astype(np.float32)
        return e / np.linalg.norm(e, axis=1, keepdims=True)

    v = hybrid_validation(b, 5, embed, p, neighbours=10)
    assert set(v["ndcg_at_10"]) == {str(w) for w in HYBRID_GRID}
    # item-kNN knows the two tastes; random text does not: less text weight is better
    assert v["ndcg_at_10"]["0.0"] > v["ndcg_at_10"]["1.0"]
    assert v["weight"] < 1.0


def test_the_test_items_play_no_part():
    b = _bundle()
    p = np.eye(20, dtype=np.float32)

    def embed(texts):
        return np.ones((len(texts), 20), dtype=np.float32) / np.sqrt(20)

    before = hybrid_validation(b, 5, embed, p, neighbours=10)
    for r in b["users"].values():
        r["warm_test"] = [(r["warm_test"][0] + 1) % 20]
    assert hybrid_validation(b, 5, embed, p, neighbours=10) == before
