"""The pooled baseline: an entity's expected share in a window, borrowed from every entity.

An entity with a few items a day has a baseline of a handful of items, and a test against
that alone (Fisher's, ``--baseline-mode own``) has no power: 15 bearish headlines for an
entity with 7 items in a week pass no corrected test. The pooled baseline is empirical
Bayes, in two layers fitted on the previous windows of *all* entities (one fit per window
and direction):

1. **Between entities**: each entity's long-run share is a draw from Beta(mu0, kappa)
   (mean, concentration), fitted by beta-binomial maximum likelihood on the entities'
   baseline counts. An entity's expected share is then its posterior mean
   ``(kappa mu0 + kb) / (kappa + nb)``: its own baseline ``kb/nb`` when it has many items,
   shrunk toward the stream's share when it has few (the weight on its own data,
   ``nb / (kappa + nb)``, is in every alert).
2. **Window to window**: one entity's share also moves from day to day (news days) beyond
   binomial noise. The concentration ``phi`` of a window's share around its entity's mean is
   fitted by maximum likelihood on the entity-windows of two or more items, each foreseen
   by the same predictive the test uses, from its entity's *other* windows (no window
   explains itself, and the uncertainty of a mean from few items is not mistaken for
   spread). The spread is a property of the stream more than of one week, and a week
   of a few entities' binomial noise often fits a spread by chance (21 windows did, p =
   0.03, and cost a real burst its alert): it is fitted over ``spread_windows`` (28) windows,
   the flagged ones left out, and the likelihood-ratio p of "no spread" is reported.

Under no change, the current window's count is then k ~ BetaBinomial(n, m c, (1 - m) c): a
Beta of mean m (the entity's posterior mean) whose variance is the posterior's uncertainty
about the entity's mean plus the window-to-window spread, ``v = u + (m(1 - m) - u) / (phi +
1)`` with ``u = m(1 - m) / (kappa + nb + 1)`` and ``c = m(1 - m) / v - 1``. With no
window-to-window spread (phi -> inf) it is the exact posterior predictive. The p-value is
its upper tail P(K >= k).
"""

from __future__ import annotations

from dataclasses import dataclass

from tunewise.evaluation.proportions import fit_beta_binomial, fit_dispersion

MIN_POOL = 5
"""Entities with a baseline needed to fit the prior; with fewer, a weak prior (below)."""
WEAK_PRIOR = 2.0
"""The concentration used when too few entities are there to fit one: two items' worth of
the stream's share, so an entity's own baseline decides."""


@dataclass
class Prior:
    mean: float
    """mu0: the share of a typical entity's baseline."""
    concentration: float
    """kappa: items' worth of evidence the prior holds (between-entity agreement)."""
    dispersion: float | None
    """phi: concentration of one window's share around its entity's mean (None: not fitted)."""
    entities: int
    """Entities whose baselines made the fit."""
    entity_windows: int
    """Baseline entity-windows (2+ items) that fitted phi."""
    fitted: bool
    """False: too few entities; a weak prior at the stream's share."""
    spread_p: float | None = None
    """Likelihood-ratio p-value of "no window-to-window spread" (reported, not a gate)."""

    def expected(self, kb: int, nb: int) -> tuple[float, float, float]:
        """(expected share m, predictive concentration c, weight of the entity's own data)
        for an entity with ``kb`` of ``nb`` in its baseline."""
        a0 = self.mean * self.concentration
        post = self.concentration + nb
        m = (a0 + kb) / post
        m = min(max(m, 1e-6), 1 - 1e-6)
        var = m * (1 - m)
        u = var / (post + 1)  # uncertainty about the entity's own mean
        v = u if self.dispersion is None else u + (var - u) / (self.dispersion + 1)
        c = var / v - 1
        return m, c, nb / post

    def to_dict(self) -> dict:
        return {
            "mean": round(self.mean, 4),
            "concentration": round(self.concentration, 2),
            "window_concentration": None if self.dispersion is None else round(self.dispersion, 2),
            "entities": self.entities,
            "entity_windows": self.entity_windows,
            "fitted": self.fitted,
            "spread_p": None if self.spread_p is None else round(self.spread_p, 5),
        }


def fit_prior(
    base: dict[str, list[tuple[int, int]]], dispersion: bool = True, spread: dict | None = None
) -> Prior:
    """The two-layer prior from each entity's baseline windows ``[(k, n), ...]``; the
    window-to-window spread from ``spread`` (each entity's windows over a longer lookback;
    default: the baseline's)."""
    ents = [(sum(k for k, _ in ws), sum(n for _, n in ws)) for ws in base.values()]
    ents = [(k, n) for k, n in ents if n > 0]
    tot_k, tot_n = sum(k for k, _ in ents), sum(n for _, n in ents)
    if len(ents) >= MIN_POOL:
        mu0, kappa = fit_beta_binomial([k for k, _ in ents], [n for _, n in ents])
        fitted = True
    else:
        mu0, kappa, fitted = (tot_k + 0.5) / (tot_n + 1.0), WEAK_PRIOR, False
    phi, used, spread_p = None, 0, None
    if dispersion:
        ks, ns, ms, us = [], [], [], []
        for ws in (base if spread is None else spread).values():
            kb, nb = sum(k for k, _ in ws), sum(n for _, n in ws)
            for k, n in ws:
                if n < 2:
                    continue
                # the entity's mean without this window, and that estimate's variance: the
                # fit asks how well the test's own predictive foresees each held-out window
                post = kappa + nb - n
                m = (mu0 * kappa + kb - k) / post
                ks.append(k)
                ns.append(n)
                ms.append(m)
                us.append(m * (1 - m) / (post + 1))
        used = len(ns)
        if used >= MIN_POOL:
            phi, spread_p = fit_dispersion(ks, ns, ms, us)
    return Prior(mu0, kappa, phi, len(ents), used, fitted, spread_p)
