"""Intervals and tests for shares (k of n): Wilson score intervals, a one-sided Fisher test."""

from __future__ import annotations

import math


def wilson(k: int, n: int, level: float = 0.95) -> list[float]:
    """Wilson score interval of the share ``k / n`` ([0, 1] when n is 0)."""
    if n <= 0:
        return [0.0, 1.0]
    from scipy.stats import norm

    z = float(norm.ppf(0.5 + level / 2))
    p = k / n
    den = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return [max(0.0, mid - half), min(1.0, mid + half)]


def share_greater(k1: int, n1: int, k0: int, n0: int) -> float:
    """One-sided p-value that the share k1/n1 exceeds k0/n0 (Fisher's exact test)."""
    from scipy.stats import fisher_exact

    if n1 <= 0 or n0 <= 0:
        return 1.0
    return float(fisher_exact([[k1, n1 - k1], [k0, n0 - k0]], alternative="greater").pvalue)
