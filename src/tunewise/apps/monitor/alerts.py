"""Alerts that mean something: an entity's negative (or positive) share in a closed window
against its own recent baseline.

The test is one-sided Fisher's exact test of the window's k/n against the baseline's pooled
k/n (the previous ``baseline`` windows of that entity, windows that were themselves flagged
left out, so a burst does not become the normal). Every (entity, direction) tested in a
window is one family: with the Bonferroni correction each test runs at ``alpha / m``, so
under the null (the share has not changed) the chance of any false alarm in a window is at
most ``alpha``. An alert further needs ``min_volume`` items in the window and in the
baseline, a change of at least ``min_change`` in the share, and the entity's last alert in
that direction at least ``cooldown`` seconds before.
"""

from __future__ import annotations

from dataclasses import dataclass

from tunewise.apps.monitor.aggregate import point, top_items
from tunewise.apps.monitor.items import iso
from tunewise.evaluation.proportions import share_greater, wilson


@dataclass
class AlertRule:
    alpha: float = 0.01
    """False-alarm rate per window, across all entities and directions (Bonferroni)."""
    baseline: int = 7
    """Windows before the current one that make the baseline."""
    min_baseline_windows: int = 3
    min_volume: int = 10
    min_change: float = 0.10
    cooldown: int = 2 * 86400
    directions: tuple[str, ...] = ("negative", "positive")

    def describe(self) -> str:
        return (
            f"one-sided Fisher exact test vs the previous {self.baseline} windows, "
            f"Bonferroni across entities and directions: at most {self.alpha:g} false alarms "
            f"per window under no change; min volume {self.min_volume}, min change "
            f"{self.min_change:g}, cooldown {self.cooldown // 3600}h"
        )


def _counts(store, window_s: int, lo: int, hi: int) -> dict[tuple[str, int], tuple]:
    rows = store.all(
        "SELECT e.entity, (i.ts / :w) * :w, count(*), "
        "sum(CASE WHEN s.polarity = 'negative' THEN 1 ELSE 0 END), "
        "sum(CASE WHEN s.polarity = 'positive' THEN 1 ELSE 0 END), sum(s.p_neg), sum(s.p_pos) "
        "FROM items i JOIN scores s ON s.item_id = i.id JOIN item_entities e ON e.item_id = i.id "
        "WHERE i.dup_of IS NULL AND i.ts >= :lo AND i.ts < :hi GROUP BY e.entity, (i.ts / :w) * :w",
        w=window_s,
        lo=lo,
        hi=hi,
    )
    return {(r[0], int(r[1])): tuple(r[2:]) for r in rows}


def _severity(p: float, alpha_adj: float, change: float) -> str:
    if p < alpha_adj / 100 and change >= 0.3:
        return "high"
    if p < alpha_adj / 10:
        return "medium"
    return "low"


def evaluate_window(store, rule: AlertRule, window_s: int, start: int, run=("", "")) -> list:
    """Alerts of the window starting at ``start`` (and flags recorded for the baseline)."""
    from sqlalchemy import text

    lo = start - rule.baseline * window_s
    counts = _counts(store, window_s, lo, start + window_s)
    flagged = {
        (r[0], r[1], int(r[2]))
        for r in store.all(
            "SELECT entity, direction, start FROM flags WHERE window_s = :w AND start >= :lo",
            w=window_s,
            lo=lo,
        )
    }
    tests = []
    for (ent, s), (n, neg, pos, _, _) in counts.items():
        if s != start or n < rule.min_volume:
            continue
        for d in rule.directions:
            k = int(neg or 0) if d == "negative" else int(pos or 0)
            base = [
                (c, bs)
                for (e2, bs), c in counts.items()
                if e2 == ent and bs < start and (ent, d, bs) not in flagged
            ]
            nb = sum(int(c[0]) for c, _ in base)
            if len(base) < rule.min_baseline_windows or nb < rule.min_volume:
                continue
            kb = sum(int((c[1] if d == "negative" else c[2]) or 0) for c, _ in base)
            tests.append((ent, d, k, int(n), kb, nb, len(base)))
    if not tests:
        return []
    alpha_adj = rule.alpha / len(tests)
    out, new_flags = [], []
    for ent, d, k, n, kb, nb, nbw in tests:
        share, bshare = k / n, kb / nb
        p = share_greater(k, n, kb, nb)
        if p >= alpha_adj or share - bshare < rule.min_change:
            continue
        new_flags.append((ent, d))
        last = store.one(
            "SELECT max(start) FROM alerts WHERE entity = :e AND direction = :d AND window_s = :w",
            e=ent,
            d=d,
            w=window_s,
        )
        if last and last[0] is not None and start - int(last[0]) < rule.cooldown:
            continue
        cur = counts[(ent, start)]
        out.append(
            {
                "id": f"{ent}:{d}:{iso(start)}:{window_s}",
                "entity": ent,
                "direction": d,
                "window": {"start": iso(start), "end": iso(start + window_s), "seconds": window_s},
                "severity": _severity(p, alpha_adj, share - bshare),
                "p_value": p,
                "alpha": rule.alpha,
                "alpha_per_test": alpha_adj,
                "tests_in_window": len(tests),
                "evidence": {
                    "window": point(ent, start, window_s, *cur),
                    "count": k,
                    "n": n,
                    "share": round(share, 4),
                    "share_ci": [round(x, 4) for x in wilson(k, n)],
                    "baseline": {
                        "count": kb,
                        "n": nb,
                        "windows": nbw,
                        "share": round(bshare, 4),
                        "share_ci": [round(x, 4) for x in wilson(kb, nb)],
                    },
                    "change": round(share - bshare, 4),
                    "test": rule.describe(),
                    "top_items": top_items(store, ent, start, start + window_s, d),
                },
                "run": {"id": run[0], "version": run[1]},
            }
        )
    with store.engine.begin() as c:
        for ent, d in new_flags:
            c.execute(
                text(
                    "INSERT INTO flags (entity, direction, window_s, start) VALUES "
                    "(:e, :d, :w, :s) ON CONFLICT DO NOTHING"
                ),
                {"e": ent, "d": d, "w": window_s, "s": start},
            )
    return out
