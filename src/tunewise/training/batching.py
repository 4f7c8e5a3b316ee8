"""Batch plans: which example indices go in which batch, deterministic per (seed, epoch)."""

from __future__ import annotations

import numpy as np


def plan_batches(
    lengths: list[int],
    batch_size: int,
    seed: int,
    epoch: int,
    group_by_length: bool = True,
    mega: int = 50,
) -> list[list[int]]:
    """Shuffled batches of indices; with ``group_by_length`` examples of similar length share
    a batch so dynamic padding wastes little.

    Length grouping as in most trainers, but tighter: shuffle, cut into windows of
    ``mega * batch_size``, sort each window by length, cut into batches, shuffle the batches.
    The same (seed, epoch) always gives the same plan, which is what makes resume exact.
    """
    n = len(lengths)
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(n)
    if not group_by_length:
        return [order[i : i + batch_size].tolist() for i in range(0, n, batch_size)]
    lens = np.asarray(lengths)
    window = batch_size * mega
    batches = []
    for start in range(0, n, window):
        chunk = order[start : start + window]
        chunk = chunk[np.argsort(-lens[chunk], kind="stable")]
        batches += [chunk[i : i + batch_size].tolist() for i in range(0, len(chunk), batch_size)]
    perm = rng.permutation(len(batches))
    return [batches[i] for i in perm]


def eval_batches(lengths: list[int], batch_size: int) -> list[list[int]]:
    """Evaluation batches sorted by length (every row exactly once)."""
    order = np.argsort(-np.asarray(lengths), kind="stable")
    return [order[i : i + batch_size].tolist() for i in range(0, len(order), batch_size)]


def shard(batches: list[list[int]], rank: int, world: int) -> list[list[int]]:
    """This process's share of the batches; every process gets the same count (the last
    batches wrap around) so collective ops stay in step."""
    if world == 1:
        return batches
    per = -(-len(batches) // world)
    padded = batches + batches[: per * world - len(batches)]
    return padded[rank::world]


def padding_stats(batches: list[list[int]], lengths: list[int]) -> tuple[int, int]:
    """(real tokens, tokens processed including padding) for a plan."""
    real = total = 0
    for b in batches:
        ls = [lengths[i] for i in b]
        real += sum(ls)
        total += max(ls) * len(ls)
    return real, total
