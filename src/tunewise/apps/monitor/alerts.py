"""Alerts that mean something: an entity's negative (or positive) share in a closed window
against its expected share under no change.

Two tests, chosen by ``AlertRule.mode`` (``--baseline-mode``):

- ``pooled`` (the default): the window's count k of n against a beta-binomial predictive
  for that entity, fitted by empirical Bayes on the baseline windows of *all* entities
  (:mod:`tunewise.apps.monitor.baseline`): an entity with few items borrows strength from
  the stream's share instead of testing against a handful of its own, and the spread of
  one entity's share from window to window is part of the null. p = P(K >= k).
- ``own``: one-sided Fisher's exact test of k/n against the entity's own pooled baseline
  k/n alone (the test before the pooled one; it needs ``min_volume`` items in the
  baseline too, so an entity with a few items a day is never tested).

Both: the baseline is the previous ``baseline`` windows, windows that were themselves
flagged left out (so a burst does not become the normal), at least
``min_baseline_windows`` of them holding items. Every (entity, direction) tested in a
window is one family: with the Bonferroni correction each test runs at ``alpha / m``, so
under the null (the share has not changed, as the test models it) the chance of any false
alarm in a window is at most ``alpha``. An alert further needs ``min_volume`` items in the
current window, a change of at least ``min_change`` over the expected share, and the
entity's last alert in that direction at least ``cooldown`` seconds before.
"""

from __future__ import annotations

from dataclasses import dataclass

from tunewise.apps.monitor.aggregate import point, top_items
from tunewise.apps.monitor.baseline import Prior, fit_prior
from tunewise.apps.monitor.items import iso
from tunewise.evaluation.proportions import beta_binomial_sf, share_greater, wilson

MODES = ("pooled", "own")


@dataclass
class AlertRule:
    alpha: float = 0.01
    """False-alarm rate per window, across all entities and directions (Bonferroni)."""
    baseline: int = 7
    """Windows before the current one that make the baseline."""
    min_baseline_windows: int = 3
    min_volume: int = 10
    """Fewest items in the current window (``own``: in the baseline too)."""
    min_change: float = 0.10
    cooldown: int = 2 * 86400
    directions: tuple[str, ...] = ("negative", "positive")
    mode: str = "pooled"
    """pooled: empirical-Bayes beta-binomial over all entities; own: Fisher vs own baseline."""
    dispersion: bool = True
    """pooled: the window-to-window spread of an entity's share is part of the null."""
    spread_windows: int = 28
    """pooled: windows that fit the spread (a property of the stream; more than the
    baseline's, so that a week of noise does not fit a spread by chance)."""

    def describe(self) -> str:
        tail = (
            f"Bonferroni across entities and directions: at most {self.alpha:g} false alarms "
            f"per window under no change; min volume {self.min_volume}, min change "
            f"{self.min_change:g}, cooldown {self.cooldown // 3600}h"
        )
        if self.mode == "own":
            return (
                f"one-sided Fisher exact test vs the entity's own previous {self.baseline} "
                f"windows, {tail}"
            )
        return (
            "one-sided beta-binomial tail vs the entity's expected share (empirical Bayes: "
            f"a beta prior fitted on every entity's previous {self.baseline} windows, "
            + (
                f"with the window-to-window spread fitted on the previous {self.spread_windows}"
                if self.dispersion
                else "without the window-to-window spread"
            )
            + f"), {tail}"
        )


class StoreState:
    """Flags and last alerts kept in the store (the monitor's own loop)."""

    def __init__(self, store):
        self.store = store

    def flagged(self, window_s: int, lo: int) -> set:
        return {
            (r[0], r[1], int(r[2]))
            for r in self.store.all(
                "SELECT entity, direction, start FROM flags WHERE window_s = :w AND start >= :lo",
                w=window_s,
                lo=lo,
            )
        }

    def last_alert(self, ent: str, d: str, window_s: int) -> int | None:
        last = self.store.one(
            "SELECT max(start) FROM alerts WHERE entity = :e AND direction = :d AND window_s = :w",
            e=ent,
            d=d,
            w=window_s,
        )
        return int(last[0]) if last and last[0] is not None else None

    def tested(self, start: int, tests: list) -> None:
        pass

    def add_flags(self, window_s: int, start: int, flags: list, alerts: list) -> None:
        from sqlalchemy import text

        with self.store.engine.begin() as c:
            for ent, d in flags:
                c.execute(
                    text(
                        "INSERT INTO flags (entity, direction, window_s, start) VALUES "
                        "(:e, :d, :w, :s) ON CONFLICT DO NOTHING"
                    ),
                    {"e": ent, "d": d, "w": window_s, "s": start},
                )


class MemoryState:
    """Flags and last alerts in memory: detection re-run over a store it leaves unchanged."""

    def __init__(self):
        self.flags: set = set()
        self.last: dict = {}
        self.tests = 0
        self.entity_windows: set = set()
        """(entity, start) of every entity-window that was tested (in any direction)."""

    def tested(self, start: int, tests: list) -> None:
        self.tests += len(tests)
        self.entity_windows.update((t["entity"], start) for t in tests)

    def flagged(self, window_s: int, lo: int) -> set:
        return {f for f in self.flags if f[2] >= lo}

    def last_alert(self, ent: str, d: str, window_s: int) -> int | None:
        return self.last.get((ent, d))

    def add_flags(self, window_s: int, start: int, flags: list, alerts: list) -> None:
        self.flags.update((e, d, start) for e, d in flags)
        for a in alerts:
            self.last[(a["entity"], a["direction"])] = start


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


def _k(c: tuple, d: str) -> int:
    return int((c[1] if d == "negative" else c[2]) or 0)


def _tests(
    rule: AlertRule, counts: dict, flagged: set, start: int, window_s: int = 86400
) -> list[dict]:
    """Every (entity, direction) the window tests, with its counts, expected share and p.
    ``counts`` reach back ``spread_windows`` windows; the baseline is the last ``baseline``."""
    lo = start - rule.baseline * window_s
    by_ent: dict[str, list] = {}
    for (ent, s), c in counts.items():
        if s < start:
            by_ent.setdefault(ent, []).append((s, c))
    out = []
    for d in rule.directions:
        longer = {
            ent: [(s, _k(c, d), int(c[0])) for s, c in ws if (ent, d, s) not in flagged]
            for ent, ws in by_ent.items()
        }
        base = {ent: [(k, n) for s, k, n in ws if s >= lo] for ent, ws in longer.items()}
        base = {ent: ws for ent, ws in base.items() if ws}
        spread = {ent: [(k, n) for _, k, n in ws] for ent, ws in longer.items()}
        prior: Prior | None = None
        for (ent, s), c in counts.items():
            n = int(c[0])
            if s != start or n < rule.min_volume:
                continue
            ws = base.get(ent, [])
            kb, nb = sum(k for k, _ in ws), sum(m for _, m in ws)
            if len(ws) < rule.min_baseline_windows:
                continue
            k = _k(c, d)
            t = {"entity": ent, "direction": d, "k": k, "n": n, "kb": kb, "nb": nb}
            t["windows"] = len(ws)
            if rule.mode == "own":
                if nb < rule.min_volume:
                    continue
                t.update(expected=kb / nb, p=share_greater(k, n, kb, nb), source="own")
            else:
                if prior is None:  # one fit per window and direction, on every entity
                    prior = fit_prior(base, rule.dispersion, spread)
                m, conc, own_w = prior.expected(kb, nb)
                p = beta_binomial_sf(k, n, m * conc, (1 - m) * conc)
                t.update(expected=m, p=p, source="pooled", own_weight=own_w, conc=conc)
                t["prior"] = prior.to_dict()
            out.append(t)
    return out


def evaluate_window(
    store, rule: AlertRule, window_s: int, start: int, run=("", ""), state=None
) -> list:
    """Alerts of the window starting at ``start`` (and flags recorded for the baseline).

    ``state`` keeps the flags and the last alerts (cooldown): the store's own tables by
    default, a :class:`MemoryState` to re-run detection without writing to the store."""
    state = state or StoreState(store)
    back = max(rule.baseline, rule.spread_windows if rule.mode == "pooled" else 0)
    lo = start - back * window_s
    counts = _counts(store, window_s, lo, start + window_s)
    tests = _tests(rule, counts, state.flagged(window_s, lo), start, window_s)
    state.tested(start, tests)
    if not tests:
        return []
    alpha_adj = rule.alpha / len(tests)
    out, new_flags = [], []
    for t in tests:
        ent, d, k, n, kb, nb, p = (t[x] for x in ("entity", "direction", "k", "n", "kb", "nb", "p"))
        share, expected = k / n, t["expected"]
        if p >= alpha_adj or share - expected < rule.min_change:
            continue
        new_flags.append((ent, d))
        last = state.last_alert(ent, d, window_s)
        if last is not None and start - last < rule.cooldown:
            continue
        base = {
            "count": kb,
            "n": nb,
            "windows": t["windows"],
            "share": round(kb / nb, 4) if nb else None,
            "share_ci": [round(x, 4) for x in wilson(kb, nb)],
            "source": t["source"],
            "expected_share": round(expected, 4),
        }
        if t["source"] == "pooled":
            base.update(
                own_weight=round(t["own_weight"], 4),
                predictive_concentration=round(t["conc"], 2),
                prior=t["prior"],
            )
        out.append(
            {
                "id": f"{ent}:{d}:{iso(start)}:{window_s}",
                "entity": ent,
                "direction": d,
                "window": {"start": iso(start), "end": iso(start + window_s), "seconds": window_s},
                "severity": _severity(p, alpha_adj, share - expected),
                "p_value": p,
                "alpha": rule.alpha,
                "alpha_per_test": alpha_adj,
                "tests_in_window": len(tests),
                "evidence": {
                    "window": point(ent, start, window_s, *counts[(ent, start)]),
                    "count": k,
                    "n": n,
                    "share": round(share, 4),
                    "share_ci": [round(x, 4) for x in wilson(k, n)],
                    "baseline": base,
                    "change": round(share - expected, 4),
                    "test": rule.describe(),
                    "top_items": top_items(store, ent, start, start + window_s, d),
                },
                "run": {"id": run[0], "version": run[1]},
            }
        )
    state.add_flags(window_s, start, new_flags, out)
    return out


def redetect(store, rule: AlertRule, window_s: int, sinks: list, run=("", "")) -> dict:
    """Detection re-run over the scores already in ``store`` (no model; the store is only
    read): every window holding items, in time order, with ``rule``; alerts go to ``sinks``."""
    starts = sorted(
        int(r[0]) for r in store.all("SELECT DISTINCT (ts / :w) * :w FROM items", w=window_s)
    )
    state = MemoryState()
    alerts = []
    for s in starts:
        got = evaluate_window(store, rule, window_s, s, run, state)
        for a in got:
            for sink in sinks:
                sink.send(a)
        alerts += got
    return {
        "windows": len(starts),
        "alerts": len(alerts),
        "tests": state.tests,
        "entity_windows_tested": len(state.entity_windows),
        "test": rule.describe(),
    }
