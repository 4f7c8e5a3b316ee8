"""Splitting dev and test off train, the one way every task does it (duplicate-grouped,
stratified where the task has a stratum, seeded)."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Hashable
from typing import Any

from tunewise.data.examples import Example, dedup_key
from tunewise.data.labels import labels_of


def grouped_split(
    items: list,
    *,
    key: Callable[[Any], Hashable],
    stratum: Callable[[Any], Hashable] | None = None,
    dev: float,
    test: float,
    seed: int,
) -> tuple[list, list, list]:
    """Split any task's examples into (train, dev, test): duplicate-grouped, stratified, seeded.

    - Items with equal ``key`` (copies of one text, sentence or prompt) always land in the same
      split, so a split made here never leaks an example from train into dev or test; sizes
      are counted in distinct keys.
    - ``stratum`` (a label, or None) stratifies; every stratum keeps at least one group in
      train, and a stratum with a single group stays in train.
    - Each stratum is shuffled by its own seeded generator, so adding a class does not move
      the examples of the others. A share of 0 gives an empty split.
    - Each split keeps the input order.
    """
    if not (0 <= dev < 1 and 0 <= test < 1 and dev + test < 1):
        raise ValueError(f"bad split shares dev={dev}, test={test}")
    groups: dict[Hashable, list[int]] = {}
    for i, item in enumerate(items):
        groups.setdefault(key(item), []).append(i)
    labels = [stratum(items[m[0]]) if stratum is not None else None for m in groups.values()]
    if all(x is None for x in labels):  # nothing to stratify by
        return _unstratified(items, groups, dev, test, seed)
    strata: dict = {}
    for members, s in zip(groups.values(), labels):
        strata.setdefault(None if s is None else str(s), []).append(members)
    eligible = {k: len(g) for k, g in strata.items() if len(g) >= 2}
    n = sum(eligible.values())
    caps = {k: size - 1 for k, size in eligible.items()}
    n_test = _allocate(eligible, test, _round(n * test), caps)
    caps = {k: caps[k] - n_test[k] for k in eligible}
    n_dev = _allocate(eligible, dev, _round(n * dev), caps)

    which = [0] * len(items)  # 0 train, 1 dev, 2 test
    for k in sorted(eligible, key=_order):
        shuffled = list(strata[k])
        random.Random(f"{seed}:{k}").shuffle(shuffled)
        for pos, members in enumerate(shuffled):
            part = 2 if pos < n_test[k] else 1 if pos < n_test[k] + n_dev[k] else 0
            for i in members:
                which[i] = part
    parts: tuple[list, list, list] = ([], [], [])
    for item, part in zip(items, which, strict=True):
        parts[part].append(item)
    return parts


def _unstratified(items: list, groups: dict, dev: float, test: float, seed: int):
    """Seeded shuffle of the groups (copies of an example move together), then test, dev."""
    keys = list(groups)
    random.Random(seed).shuffle(keys)
    n_test, n_dev = round(len(keys) * test), round(len(keys) * dev)
    which = {}
    for pos, k in enumerate(keys):
        part = 2 if pos < n_test else 1 if pos < n_test + n_dev else 0
        for i in groups[k]:
            which[i] = part
    parts: tuple[list, list, list] = ([], [], [])
    for i, item in enumerate(items):
        parts[which[i]].append(item)
    return parts


def _first_label(example: Example):
    first = labels_of(example)
    return first[0] if first else None


def stratified_split(
    examples: list[Example], *, dev: float, test: float, seed: int
) -> tuple[list[Example], list[Example], list[Example]]:
    """Split classification examples into (train, dev, test), stratified by (first) label,
    grouped by normalized text (see :func:`grouped_split`)."""
    return grouped_split(
        examples, key=dedup_key, stratum=_first_label, dev=dev, test=test, seed=seed
    )


def _order(key: str | None) -> tuple[bool, str]:
    return key is None, key or ""


def _round(x: float) -> int:
    return math.floor(x + 0.5 + 1e-9)  # half up, and 0.29 * 100 is 29, not 28.999...


def _allocate(sizes: dict, share: float, total: int, caps: dict) -> dict:
    """Largest-remainder apportionment of ``total`` over strata, in proportion to size."""
    exact = {k: size * share for k, size in sizes.items()}
    count = {k: min(math.floor(x + 1e-9), caps[k]) for k, x in exact.items()}
    left = total - sum(count.values())
    order = sorted(sizes, key=lambda k: (-(exact[k] - math.floor(exact[k] + 1e-9)), _order(k)))
    while left > 0:
        grown = False
        for k in order:
            if left > 0 and count[k] < caps[k]:
                count[k] += 1
                left -= 1
                grown = True
        if not grown:
            break
    return count


def refuse_empty_splits(path, rows: int, dev_share: float, test_share: float, dev, test) -> None:
    """A split asked for (share > 0) that came out empty: the run would end with an empty
    metrics table, so refuse it and say how many rows a split needs."""
    from tunewise.errors import UserError

    empty = [
        n
        for n, share, part in (("dev", dev_share, dev), ("test", test_share, test))
        if share > 0 and not part
    ]
    if not empty:
        return
    need = max(math.ceil(0.5 / share) for share in (dev_share, test_share) if share > 0)
    raise UserError(
        f"{path}: {rows} rows are too few to split off {' and '.join(empty)} "
        f"(shares dev {dev_share:g}, test {test_share:g}: at least {need} distinct texts, two "
        "or more per class, are needed); give --dev and --test files, or more rows"
    )
