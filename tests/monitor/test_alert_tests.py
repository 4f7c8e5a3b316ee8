"""The alert tests themselves: the pooled (empirical-Bayes beta-binomial) test finds a
low-volume entity's turn that its own baseline cannot, keeps its stated false-alarm rate on
noise, and `monitor redetect` re-runs either test over a store without touching it."""

from __future__ import annotations

import json
import random
from dataclasses import replace

import pytest

from tests.monitor.conftest import KeywordScorer, write_stream
from tunewise.apps.monitor.alerts import AlertRule, MemoryState, _tests, redetect
from tunewise.apps.monitor.baseline import fit_prior
from tunewise.apps.monitor.items import Columns
from tunewise.apps.monitor.pipeline import Monitor
from tunewise.apps.monitor.sinks import JsonlSink
from tunewise.apps.monitor.sources import read_file
from tunewise.apps.monitor.store import Store
from tunewise.evaluation.proportions import beta_binomial_sf, fit_beta_binomial, fit_dispersion

W = 86400
COLS = Columns("text", "time", "id", "ticker", require_time=True)
DAY0 = 1_709_251_200  # 2024-03-01, a window start


def _noise(rng, ents=30, days=8, spread=40.0, day=None):
    """counts[(entity, start)] as alerts._counts gives them: entities whose long-run negative
    share differs (Beta(3, 17)), volumes 1-40 a day, and a share that moves from day to day
    (Beta of concentration ``spread`` around the entity's), all under no change."""
    counts = {}
    for e in range(ents):
        mu, vol = rng.betavariate(3, 17), rng.choice([1, 2, 4, 10, 20, 40])
        for d in range(days):
            n = max(0, round(rng.gauss(vol, vol**0.5)))
            if n:
                p = rng.betavariate(mu * spread, (1 - mu) * spread)
                k = sum(rng.random() < p for _ in range(n))
                counts[(f"E{e}", DAY0 + d * W)] = (n, k, 0, 0.0, 0.0)
    return counts


def test_beta_binomial_pieces():
    # the tail is the binomial's when the share is all but known
    assert beta_binomial_sf(0, 10, 1, 1) == 1.0
    assert beta_binomial_sf(10, 10, 1, 1) == pytest.approx(1 / 11)  # uniform share
    assert beta_binomial_sf(5, 10, 3e5, 7e5) == pytest.approx(0.1503, abs=2e-3)  # Bin(10, .3)
    rng = random.Random(1)
    mus = [rng.betavariate(6, 24) for _ in range(400)]  # mean 0.2, concentration 30
    ks = [sum(rng.random() < m for _ in range(50)) for m in mus]
    mean, conc = fit_beta_binomial(ks, [50] * 400)
    assert mean == pytest.approx(0.2, abs=0.02) and 15 < conc < 60
    # no spread between groups: the concentration runs to its bound
    same = [sum(rng.random() < 0.2 for _ in range(50)) for _ in range(400)]
    assert fit_beta_binomial(same, [50] * 400)[1] > 300
    # windows around known means: the spread's concentration comes back
    ps = [rng.betavariate(0.2 * 25, 0.8 * 25) for _ in range(600)]
    kw = [sum(rng.random() < p for _ in range(30)) for p in ps]
    c, p = fit_dispersion(kw, [30] * 600, [0.2] * 600)
    assert 15 < c < 40 and p < 1e-6
    # binomial windows: a spread, if any, is not shown
    kb = [sum(rng.random() < 0.2 for _ in range(30)) for _ in range(600)]
    assert fit_dispersion(kb, [30] * 600, [0.2] * 600)[1] > 0.05


def test_a_low_volume_entitys_turn_alerts_under_the_pooled_test_not_under_its_own():
    """2 items a day for a week (14 in the baseline, 2 negative), then 16 of which 12
    negative: Fisher against 2/14 cannot pass a correction over the window's tests; the
    pooled test, knowing what a typical entity's share is, can."""
    rng = random.Random(3)
    counts = _noise(rng, ents=20, days=7, spread=1e5)
    for d in range(7):
        counts[("LOW", DAY0 + d * W)] = (2, 1 if d in (1, 4) else 0, 0, 0.0, 0.0)
    start = DAY0 + 7 * W
    counts[("LOW", start)] = (16, 12, 0, 0.0, 0.0)
    for e in range(20):  # everyone else goes on as before
        counts[(f"E{e}", start)] = (20, 3, 0, 0.0, 0.0)
    got = {}
    for mode in ("own", "pooled"):
        rule = AlertRule(mode=mode, directions=("negative",))
        tests = _tests(rule, counts, set(), start)
        low = next(t for t in tests if t["entity"] == "LOW")
        got[mode] = (low["p"], rule.alpha / len(tests), low)
    p_own, a_own, _ = got["own"]
    p_pool, a_pool, low = got["pooled"]
    assert p_own > a_own, "Fisher on a 14-item baseline should not pass Bonferroni"
    assert p_pool < a_pool, got["pooled"]
    assert low["source"] == "pooled" and low["own_weight"] < 0.6 and low["nb"] == 14
    assert low["expected"] < 0.25  # shrunk toward the stream, between 2/14 and its share


def test_min_volume_applies_to_the_current_window_only_in_pooled_mode():
    """A baseline of 7 items (1 a day) is tested under pooled, never under own."""
    rng = random.Random(5)
    counts = _noise(rng, ents=12, days=8)
    for d in range(7):
        counts[("UNH", DAY0 + d * W)] = (1, 0, 0, 0.0, 0.0)
    start = DAY0 + 7 * W
    counts[("UNH", start)] = (16, 11, 0, 0.0, 0.0)
    ents = {
        m: {t["entity"] for t in _tests(AlertRule(mode=m), counts, set(), start)}
        for m in ("own", "pooled")
    }
    assert "UNH" in ents["pooled"] and "UNH" not in ents["own"]
    counts[("UNH", start)] = (9, 9, 0, 0.0, 0.0)  # under --min-volume now: untested
    assert "UNH" not in {t["entity"] for t in _tests(AlertRule(), counts, set(), start)}


@pytest.mark.parametrize(
    "alpha, spread",
    [(0.05, 1e6), (0.05, 40.0), (0.2, 40.0)],  # 1e6: entities differ, their days do not
)
def test_pure_noise_gives_false_alarms_at_or_below_the_stated_rate(alpha, spread):
    """Many windows of noise (entities that differ, volumes of 1-40 a day, optionally shares
    that move from day to day; 28 earlier windows, as the spread is fitted in use): the
    share of windows with any alarm is at most alpha (Bonferroni over the window's tests),
    and each test's p-value is not smaller than chance makes it."""
    rng = random.Random(20261207)
    rule = AlertRule(alpha=alpha, min_volume=5, min_change=0.0, directions=("negative",))
    start = DAY0 + 28 * W
    windows = alarms = 0
    ps = []
    for _ in range(300):
        tests = _tests(rule, _noise(rng, days=29, spread=spread), set(), start)
        if not tests:
            continue
        windows += 1
        alarms += any(t["p"] < alpha / len(tests) for t in tests)
        ps += [t["p"] for t in tests]
    assert windows >= 290 and len(ps) > 2000
    assert alarms / windows <= alpha, (alarms, windows)
    for a in (0.05, 0.1):
        assert sum(p < a for p in ps) / len(ps) <= a * 1.1  # calibrated per test, 10% slack


def test_the_window_to_window_spread_is_what_keeps_the_rate():
    """On the same noise, the pooled test without the spread (and Fisher's) alarm far more
    often than stated: the spread is not decoration."""
    rng = random.Random(11)
    rules = {
        "spread": AlertRule(alpha=0.1, min_volume=5, min_change=0.0, directions=("negative",)),
    }
    rules["no_spread"] = replace(rules["spread"], dispersion=False)
    rules["own"] = replace(rules["spread"], mode="own")
    start = DAY0 + 7 * W
    rate = {k: [0, 0] for k in rules}
    for _ in range(60):
        c = _noise(rng, spread=8.0)
        for name, rule in rules.items():
            tests = _tests(rule, c, set(), start)
            rate[name][0] += any(t["p"] < rule.alpha / len(tests) for t in tests)
            rate[name][1] += 1
    share = {k: a / n for k, (a, n) in rate.items()}
    assert share["spread"] <= 0.1 < share["no_spread"] and share["own"] > 0.1, share


def test_a_prior_from_too_few_entities_is_weak_and_says_so():
    p = fit_prior({"A": [(2, 20), (3, 20)], "B": [(4, 20)]})
    assert not p.fitted and p.entities == 2 and p.concentration == 2.0
    m, c, own = p.expected(5, 40)
    assert own == pytest.approx(40 / 42) and m == pytest.approx((p.mean * 2 + 5) / 42)


def _low_volume_stream(burst: bool, seed: int = 5):
    """12 entities at 20 a day (15% negative) and LOW at 1 a day; LOW's day 20: 16 items,
    12 of them negative (seeded: no chance alarm in the steady windows)."""
    rng = random.Random(seed)
    items = []
    for day in range(26):
        for tk, per in [(f"T{i:02d}", 20) for i in range(12)] + [("LOW", 1)]:
            hot = burst and tk == "LOW" and day == 20
            for k in range(16 if hot else per):
                neg = (k < 12) if hot else rng.random() < 0.15
                word = "awful" if neg else ("steady" if rng.random() < 0.6 else "great")
                items.append(
                    {
                        "time": DAY0 + day * W + rng.randrange(W),
                        "ticker": tk,
                        "text": f"{word} note {tk} {day} {k} {rng.random():.8f}",
                        "id": f"{tk}-{day}-{k}",
                    }
                )
    items.sort(key=lambda x: x["time"])
    return items


def _monitor(tmp_path, name, items, rule):
    path = write_stream(tmp_path / f"{name}.jsonl", items)
    mon = Monitor(Store(str(tmp_path / f"{name}.db")), KeywordScorer(), W, rule, None, COLS)
    for ev in read_file(path):
        mon.add(ev, path.name, None)
    mon.finish()
    return mon


def test_end_to_end_the_pooled_default_alerts_on_the_low_volume_burst(tmp_path):
    mon = _monitor(tmp_path, "pooled", _low_volume_stream(True), AlertRule())
    alerts = mon.store.alerts()
    assert [(a["entity"], a["window"]["start"][:10]) for a in alerts] == [("LOW", "2024-03-21")]
    ev = alerts[0]["evidence"]
    assert ev["count"] == 12 and ev["n"] == 16
    b = ev["baseline"]
    assert b["source"] == "pooled" and b["n"] < 10 and 0 < b["own_weight"] < 1
    assert b["prior"]["fitted"] and b["prior"]["entities"] == 13
    assert alerts[0]["p_value"] < alerts[0]["alpha_per_test"]
    assert "beta-binomial" in ev["test"]
    # the old test, by flag: nothing (LOW's baseline is under --min-volume)
    old = _monitor(tmp_path, "own", _low_volume_stream(True), AlertRule(mode="own"))
    assert [a for a in old.store.alerts() if a["entity"] == "LOW"] == []


def test_redetect_replays_detection_over_the_store_without_changing_it(tmp_path):
    mon = _monitor(tmp_path, "m", _low_volume_stream(True), AlertRule(mode="own", cooldown=0))
    store = mon.store
    before = (store.counts(), store.all("SELECT * FROM flags"), store.windows_done(W))
    # the same rule over the stored scores gives the loop's alerts, byte for byte
    own = tmp_path / "own.jsonl"
    res = redetect(
        store, AlertRule(mode="own", cooldown=0), W, [JsonlSink(own)], ("keywords", "v0")
    )
    got = [json.loads(line) for line in own.read_text().splitlines()] if own.exists() else []
    assert res["windows"] == 26
    assert sorted(got, key=lambda a: a["id"]) == sorted(store.alerts(), key=lambda a: a["id"])
    pooled = tmp_path / "pooled.jsonl"
    res = redetect(store, AlertRule(), W, [JsonlSink(pooled)])
    assert res["alerts"] == 1 and "LOW:negative:2024-03-21" in pooled.read_text()
    assert (store.counts(), store.all("SELECT * FROM flags"), store.windows_done(W)) == before


def test_memory_state_cooldown_and_flags():
    st = MemoryState()
    st.add_flags(W, DAY0, [("A", "negative")], [{"entity": "A", "direction": "negative"}])
    assert st.flagged(W, DAY0) == {("A", "negative", DAY0)} and st.flagged(W, DAY0 + 1) == set()
    assert st.last_alert("A", "negative", W) == DAY0 and st.last_alert("A", "positive", W) is None
