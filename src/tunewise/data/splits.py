"""Train/dev/test: read the files, split dev and test off train when they are missing."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from pathlib import Path

from tunewise.config import DataConfig
from tunewise.data.examples import Example, dedup_key
from tunewise.data.labels import build_label_map, check_labels, labels_of
from tunewise.data.readers import read_examples
from tunewise.errors import UserError


@dataclass
class Splits:
    """The three splits, the label map (from train) and how they were made."""

    train: list[Example]
    dev: list[Example]
    test: list[Example]
    labels: list[str]
    info: dict = field(default_factory=dict)
    """Files, row counts, and ``split`` (shares and seed) when dev/test came from train."""


def stratified_split(
    examples: list[Example], *, dev: float, test: float, seed: int
) -> tuple[list[Example], list[Example], list[Example]]:
    """Split examples into (train, dev, test), stratified by label, seeded.

    - Multi-label examples are stratified by their first label.
    - Exact duplicates (normalized text) always land in the same split, so a split made here
      never leaks a text from train into dev or test; sizes are counted in distinct texts.
    - Every class keeps at least one text in train; a class with a single text stays in train.
    - Each class is shuffled by its own seeded generator, so adding a class does not move
      the examples of the others. A share of 0 gives an empty split.
    - Each split keeps the input order.
    """
    if not (0 <= dev < 1 and 0 <= test < 1 and dev + test < 1):
        raise ValueError(f"bad split shares dev={dev}, test={test}")
    groups: dict[tuple, list[int]] = {}
    for i, ex in enumerate(examples):
        groups.setdefault(dedup_key(ex), []).append(i)
    strata: dict[str | None, list[list[int]]] = {}
    for members in groups.values():
        first = labels_of(examples[members[0]])
        strata.setdefault(first[0] if first else None, []).append(members)
    eligible = {k: len(g) for k, g in strata.items() if len(g) >= 2}
    n = sum(eligible.values())
    caps = {k: size - 1 for k, size in eligible.items()}
    n_test = _allocate(eligible, test, _round(n * test), caps)
    caps = {k: caps[k] - n_test[k] for k in eligible}
    n_dev = _allocate(eligible, dev, _round(n * dev), caps)

    which = [0] * len(examples)  # 0 train, 1 dev, 2 test
    for key in sorted(eligible, key=_order):
        shuffled = list(strata[key])
        random.Random(f"{seed}:{key}").shuffle(shuffled)
        for pos, members in enumerate(shuffled):
            part = 2 if pos < n_test[key] else 1 if pos < n_test[key] + n_dev[key] else 0
            for i in members:
                which[i] = part
    parts: tuple[list, list, list] = ([], [], [])
    for ex, part in zip(examples, which, strict=True):
        parts[part].append(ex)
    return parts


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


def _refuse_empty(path, rows: int, dev_share: float, test_share: float, dev, test) -> None:
    """A split asked for (share > 0) that came out empty: the run would end with an empty
    metrics table, so refuse it and say how many rows a split needs."""
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


def load_splits(data: DataConfig, *, multi_label: bool) -> Splits:
    """Read train, dev and test as configured; split the missing ones off train.

    The label map comes from the whole train file; dev/test files may not add labels.

    Raises:
        UserError: no train file, a bad file or row, a single class, unknown dev/test labels.
    """
    if data.train is None:
        raise UserError("no training data: give --train FILE")

    def read(path: Path) -> list[Example]:
        return read_examples(
            path,
            text_column=data.text_column,
            text_pair_column=data.text_pair_column,
            label_column=data.label_column,
            require_label=True,
            multi_label=multi_label,
            label_sep=data.label_sep,
            quoting=getattr(data, "quoting", "auto"),
        )

    train = read(data.train)
    labels = build_label_map(train)
    if not labels:
        raise UserError(f"{data.train}: no labels in column {data.label_column!r}")
    if len(labels) == 1:
        raise UserError(
            f"{data.train}: only one class ({labels[0]!r}) in column {data.label_column!r}; "
            "classification needs at least two"
        )
    dev = read(data.dev) if data.dev is not None else None
    test = read(data.test) if data.test is not None else None
    info: dict = {
        "files": {
            "train": str(data.train),
            "dev": None if data.dev is None else str(data.dev),
            "test": None if data.test is None else str(data.test),
        },
        "rows_read": {"train": len(train)},
    }
    if dev is not None:
        check_labels(dev, labels, data.dev)
    if test is not None:
        check_labels(test, labels, data.test)
    if dev is None or test is None:
        dev_share = data.split.dev if dev is None else 0.0
        test_share = data.split.test if test is None else 0.0
        train, dev_part, test_part = stratified_split(
            train, dev=dev_share, test=test_share, seed=data.split.seed
        )
        _refuse_empty(data.train, len(train), dev_share, test_share, dev_part, test_part)
        info["split"] = {
            "from": "train",
            "dev": dev_share if dev is None else None,
            "test": test_share if test is None else None,
            "seed": data.split.seed,
        }
        dev = dev_part if dev is None else dev
        test = test_part if test is None else test
    info["rows"] = {"train": len(train), "dev": len(dev), "test": len(test)}
    return Splits(train, dev, test, labels, info)
