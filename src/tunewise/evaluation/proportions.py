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


def beta_binomial_sf(k: int, n: int, a: float, b: float) -> float:
    """P(K >= k) for K ~ BetaBinomial(n, a, b): the one-sided tail of a count whose share is
    itself uncertain (Beta(a, b)) rather than known."""
    from scipy.stats import betabinom

    if k <= 0:
        return 1.0
    return float(betabinom.sf(k - 1, n, a, b))


def fit_beta_binomial(
    k, n, min_concentration: float = 0.1, max_concentration: float = 1e4
) -> tuple[float, float]:
    """Marginal maximum likelihood of a Beta prior over groups' shares, from each group's
    ``k`` of ``n``: (mean, concentration a + b). The concentration is how many items' worth
    of evidence the prior holds: large when the groups' shares agree beyond binomial noise,
    small when they differ. It is kept in [min_concentration, max_concentration]."""
    import numpy as np
    from scipy.optimize import minimize
    from scipy.special import betaln, expit, logit

    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    keep = n > 0
    k, n = k[keep], n[keep]
    tot_k, tot_n = float(k.sum()), float(n.sum())
    mean0 = (tot_k + 0.5) / (tot_n + 1.0)
    if len(n) < 2 or tot_k == 0 or tot_k == tot_n:
        # all groups at 0 (or 1): nothing separates them; the prior is the pooled share
        return mean0, max_concentration
    pairs, w = np.unique(np.stack([k, n], 1), axis=0, return_counts=True)
    kk, nn = pairs[:, 0], pairs[:, 1]
    lo, hi = np.log(min_concentration), np.log(max_concentration)

    def nll(x):
        m, c = expit(x[0]), np.exp(x[1])
        a, b = m * c, (1 - m) * c
        return -float(np.sum(w * (betaln(kk + a, nn - kk + b) - betaln(a, b))))

    best = minimize(nll, [float(logit(mean0)), np.log(10.0)], method="L-BFGS-B",
                    bounds=[(-12, 12), (lo, hi)])  # fmt: skip
    return float(expit(best.x[0])), float(np.exp(best.x[1]))


def fit_dispersion(
    k, n, mean, mean_var=None, min_c: float = 0.5, max_c: float = 1e5
) -> tuple[float, float]:
    """Maximum likelihood concentration ``c`` of windows' shares around their groups' means:
    window counts k of n, ``mean`` each group's expected share (estimated without that
    window) and ``mean_var`` the variance of that estimate (0 when known). A window's share
    is then Beta with that mean and variance ``mean_var + (m(1 - m) - mean_var) / (c + 1)``
    (the estimate's uncertainty plus the window-to-window spread), and k is beta-binomial.
    Small ``c``: a group's share moves a lot from window to window (news days), so one
    window's departure means less.

    Returns (c, p): p is the likelihood-ratio test of "no spread" (c = max_c) against the
    fitted c, on the boundary, so half a chi-square with 1 degree of freedom. A few windows
    of pure binomial noise often fit a finite c by chance; p says whether they show it."""
    import numpy as np
    from scipy.optimize import minimize_scalar
    from scipy.special import betaln

    k, n = np.asarray(k, dtype=float), np.asarray(n, dtype=float)
    m = np.clip(np.asarray(mean, dtype=float), 1e-4, 1 - 1e-4)
    u = np.zeros_like(m) if mean_var is None else np.asarray(mean_var, dtype=float)
    keep = n >= 2  # a window of one item says nothing about dispersion
    k, n, m, u = k[keep], n[keep], m[keep], u[keep]
    if len(n) == 0:
        return max_c, 1.0
    var = m * (1 - m)
    u = np.minimum(u, 0.999 * var)

    def nll(x):
        v = u + (var - u) / (np.exp(x) + 1)
        c = var / v - 1
        a, b = m * c, (1 - m) * c
        return -float(np.sum(betaln(k + a, n - k + b) - betaln(a, b)))

    from scipy.stats import chi2

    r = minimize_scalar(nll, bounds=(np.log(min_c), np.log(max_c)), method="bounded")
    lr = max(2 * (nll(np.log(max_c)) - r.fun), 0.0)
    return float(np.exp(r.x)), float(0.5 * chi2.sf(lr, 1)) if lr > 0 else 1.0
