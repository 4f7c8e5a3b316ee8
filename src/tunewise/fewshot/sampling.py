"""Honest K-shot draws: K examples per class from train (seeded), dev drawn the same way from
the rows left over (or from the user's dev file), never from test.

A draw is recorded by the ``where`` of every row it took (``train.tsv line 7``), so anyone can
check that a draw's train, dev and the test file share no row.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from tunewise.data.labels import labels_of
from tunewise.errors import UserError


@dataclass
class Draw:
    """One K-shot draw: its seed, the rows taken for train and dev, and what it recorded."""

    index: int
    seed: int
    train: list
    dev: list
    record: dict = field(default_factory=dict)


def _by_class(examples) -> dict[str, list[int]]:
    out: dict[str, list[int]] = defaultdict(list)
    for i, e in enumerate(examples):
        for label in labels_of(e):
            out[label].append(i)
    return dict(out)


def sample_per_class(examples, k: int, rng: np.random.Generator, exclude=()) -> list[int]:
    """Indices of ``k`` examples per class (each class in label order), without replacement.

    Multi-label rows count for every label they carry: a class is filled with rows of that
    label not already taken, so rare labels may end with more than ``k`` rows through others.
    A class with fewer than ``k`` rows left gives all it has (the doctor warns about it).
    """
    taken: list[int] = []
    used = set(exclude)
    counts: dict[str, int] = defaultdict(int)
    for label, rows in sorted(_by_class(examples).items()):
        have = counts[label]
        pool = [i for i in rows if i not in used]
        need = max(0, k - have)
        pick = rng.permutation(len(pool))[:need] if pool else []
        for j in pick:
            i = pool[int(j)]
            used.add(i)
            taken.append(i)
            for lab in labels_of(examples[i]):
                counts[lab] += 1
    return sorted(taken)


def class_counts(examples) -> dict[str, int]:
    """Rows per class (multi-label rows count for each of their labels)."""
    return {label: len(rows) for label, rows in sorted(_by_class(examples).items())}


def make_draws(train, dev, shots: int, dev_shots: int | None, draws: int, seed: int) -> list[Draw]:
    """``draws`` K-shot draws of ``train`` (and of ``dev`` when given, else of train's rest).

    Args:
        train, dev: the examples read from the user's files (dev may be None).
        shots: K, examples per class for training.
        dev_shots: examples per class for dev (None = ``shots``; 0 = no dev set).
        seed: draw i uses ``seed + i``.
    """
    if not train:
        raise UserError("--shots: the training file has no rows to draw from")
    dev_k = shots if dev_shots is None else dev_shots
    out = []
    for i in range(draws):
        s = seed + i
        rng = np.random.default_rng(s)
        tr = sample_per_class(train, shots, rng)
        if dev_k == 0:
            dv_rows, source = [], None
        elif dev:
            dv_rows, source = [dev[j] for j in sample_per_class(dev, dev_k, rng)], "dev file"
        else:
            dv_rows = [train[j] for j in sample_per_class(train, dev_k, rng, exclude=tr)]
            source = "train rows not in this draw's train"
        tr_rows = [train[j] for j in tr]
        record = {
            "draw": i + 1,
            "seed": s,
            "shots": shots,
            "dev_shots": dev_k,
            "dev_from": source,
            "train_rows": [e.where for e in tr_rows],
            "dev_rows": [e.where for e in dv_rows],
            "train_counts": class_counts(tr_rows),
            "dev_counts": class_counts(dv_rows),
        }
        out.append(Draw(i + 1, s, tr_rows, dv_rows, record))
    return out
