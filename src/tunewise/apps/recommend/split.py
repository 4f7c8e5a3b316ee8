"""Splits of a recommendation data set that do not leak the future into training.

Per user, by time: the last ``holdout`` liked items are the test (never a random draw), the
one before them the dev pair the loop selects its checkpoint on, the rest train. Cold-start
items: the time cut is when the latest ``cold_share`` of the items (by their first
interaction, by anyone) first appear; every item first seen after it is removed from training
entirely, and the liked interactions with it are the cold-start test. Items seen in training are excluded from a
user's candidates at evaluation.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from tunewise.apps.recommend.data import RecData
from tunewise.errors import UserError


def split(data: RecData, holdout: int = 5, cold_share: float = 0.1, min_train: int = 2) -> dict:
    """The bundle the recommend task reads: items, per-user train/seen/test item indices,
    cold items and the split record.

    Args:
        holdout: the last N liked items of each user held out (by time).
        cold_share: the share of the items (the latest to appear) that are cold-start items
            (0: none).
        min_train: liked training items a user needs to be evaluated.
    """
    if holdout < 1:
        raise UserError(f"--holdout {holdout}: hold out at least 1 item per user")
    if not 0 <= cold_share < 1:
        raise UserError(f"--cold-share {cold_share}: give a share in [0, 1)")
    index = {iid: i for i, iid in enumerate(data.item_ids)}
    first: dict[int, float] = {}
    for x in data.interactions:
        i = index[x.item]
        first[i] = min(first.get(i, x.time), x.time)
    # the cut: the time after which the latest ``cold_share`` of the catalog first appears
    seen_first = np.array(sorted(first.values()), dtype=np.float64)
    cut = float(np.quantile(seen_first, 1 - cold_share)) if cold_share > 0 else float("inf")
    cold = {i for i, t in first.items() if t >= cut}
    # the earliest interaction of a (user, item) pair counts; later copies are dropped
    by_user: dict[str, list] = defaultdict(list)
    seen_pairs: set = set()
    for x in sorted(data.interactions, key=lambda x: (x.time, x.line)):
        if x.positive_key in seen_pairs:
            continue
        seen_pairs.add(x.positive_key)
        by_user[x.user].append(x)
    positive = {id(x) for x in data.positives}
    users: dict[str, dict] = {}
    evaluated = cold_users = 0
    for user, rows in by_user.items():
        warm = [x for x in rows if index[x.item] not in cold]
        liked = [x for x in warm if id(x) in positive]
        test = liked[-holdout:] if len(liked) >= holdout + min_train else []
        train = liked[: len(liked) - len(test)]
        test_ids = {id(x) for x in test}
        cutoff = test[0].time if test else float("inf")
        rec = {
            "train": [index[x.item] for x in train],
            # everything the user interacted with before the test: never recommended again
            "seen": sorted(
                {index[x.item] for x in warm if id(x) not in test_ids and x.time <= cutoff}
                - {index[x.item] for x in test}
            ),
            "warm_test": [index[x.item] for x in test],
            "cold_test": [
                index[x.item] for x in rows if index[x.item] in cold and id(x) in positive
            ],
        }
        if data.settings.get("review_column"):
            rec["reviews"] = [x.review for x in train]
        users[user] = rec
        evaluated += bool(test)
        cold_users += bool(rec["cold_test"]) and len(train) >= min_train
    if not evaluated:
        raise UserError(
            f"no user has {holdout + min_train} liked items: nothing to evaluate; lower "
            "--holdout or --min-rating"
        )
    record = _record(users, cold, holdout, min_train, cold_share, cut, len(data.item_ids))
    record["users_evaluated_warm"], record["users_evaluated_cold"] = evaluated, cold_users
    return {
        "items": {"ids": data.item_ids, "texts": data.texts, "titles": data.titles},
        "users": users,
        "cold_items": sorted(cold),
        "split": record,
        "settings": data.settings,
        "doctor": data.doctor,
    }


def _record(users: dict, cold: set, holdout, min_train, cold_share, cut, n_items) -> dict:
    """``split.json``: how the data was split, its sizes and its leakage checks."""
    train_items = {i for u in users.values() for i in u["train"]}
    return {
        "method": "per user by time: the last --holdout liked items are test (never random); "
        "cold-start items (first interaction after the time cut) are unseen in training",
        "holdout": holdout,
        "min_train_items": min_train,
        "cold_share": cold_share,
        "cold_definition": "items first seen after the time cut: the latest cold_share of the "
        "catalog to appear",
        "cold_cut_time": None if cold_share == 0 else cut,
        "users": len(users),
        "items": n_items,
        "items_in_training": len(train_items),
        "cold_items": len(cold),
        "train_positives": sum(len(u["train"]) for u in users.values()),
        "warm_test_positives": sum(len(u["warm_test"]) for u in users.values()),
        "cold_test_positives": sum(len(u["cold_test"]) for u in users.values()),
        "leakage_checks": {
            "cold_items_in_training": len(train_items & cold),
            "test_items_in_own_training": sum(
                len(set(u["warm_test"]) & set(u["train"])) for u in users.values()
            ),
        },
    }
