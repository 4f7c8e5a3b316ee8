"""The loop end to end on a generated stream: alerts on the burst only, aggregates, resume."""

from __future__ import annotations

import json

from tests.monitor.conftest import stream, write_stream
from tunewise.apps.monitor.aggregate import series
from tunewise.apps.monitor.alerts import AlertRule
from tunewise.apps.monitor.items import Columns
from tunewise.apps.monitor.pipeline import Monitor
from tunewise.apps.monitor.sinks import JsonlSink
from tunewise.apps.monitor.sources import read_file
from tunewise.apps.monitor.store import Store

COLS = Columns("text", "time", "id", "ticker", require_time=True)


def _replay(db, scorer, path, alerts=None, **kw):
    mon = Monitor(Store(str(db)), scorer, 86400, AlertRule(), None, COLS, alerts or [], **kw)
    for ev in read_file(path):
        mon.add(ev, path.name, None)
    return mon, mon.finish()


def test_burst_raises_one_alert_for_its_entity_and_none_elsewhere(tmp_path, scorer):
    # seed 11: no chance alarm in the steady windows (the false-alarm rate has its own test)
    path = write_stream(tmp_path / "s.jsonl", stream(seed=11))
    sink = JsonlSink(tmp_path / "alerts.jsonl")
    mon, stats = _replay(tmp_path / "m.db", scorer, path, [sink])
    alerts = [json.loads(line) for line in (tmp_path / "alerts.jsonl").read_text().splitlines()]
    assert alerts, "the burst raised no alert"
    assert all(a["entity"] == "AAPL" for a in alerts), alerts
    assert {a["window"]["start"][:10] for a in alerts} <= {"2024-03-25", "2024-03-26"}
    a = alerts[0]
    assert a["direction"] == "negative" and a["p_value"] < a["alpha_per_test"]
    ev = a["evidence"]
    assert ev["n"] == 20 and ev["count"] > 10 and ev["baseline"]["windows"] >= 3
    assert ev["share_ci"][0] <= ev["share"] <= ev["share_ci"][1]
    assert ev["top_items"] and all(it["p_negative"] >= 0.5 for it in ev["top_items"][:3])
    assert a["run"] == {"id": "keywords", "version": "v0"}
    assert stats.scored == 1800 and stats.rejected == 0
    # stored and marked delivered
    assert mon.store.undelivered() == [] and len(mon.store.alerts()) == len(alerts)


def test_without_a_burst_no_alert(tmp_path, scorer):
    path = write_stream(tmp_path / "s.jsonl", stream(burst=None, seed=3))
    mon, stats = _replay(tmp_path / "m.db", scorer, path)
    assert mon.store.alerts() == []


def test_aggregates_per_entity_sector_and_overall_with_wilson(tmp_path, scorer):
    from tunewise.apps.monitor.entities import Entity, EntityTable

    path = write_stream(tmp_path / "s.jsonl", stream(days=3, burst=None))
    table = EntityTable([Entity("AAPL", "Apple Inc", "Tech"), Entity("MSFT", "Microsoft", "Tech")])
    mon = Monitor(Store(str(tmp_path / "m.db")), scorer, 86400, AlertRule(), table, COLS)
    for ev in read_file(path):
        mon.add(ev, "s", None)
    mon.finish()
    ent = series(mon.store, 86400, "entity", "AAPL")
    assert [p["n"] for p in ent] == [20, 20, 20]
    p = ent[0]
    assert p["negative"] + p["positive"] + p["neutral"] == 20
    lo, hi = p["negative_ci"]
    assert lo < p["negative_share"] < hi and 0 <= lo and hi <= 1
    sector = series(mon.store, 86400, "sector", "Tech")
    assert [q["n"] for q in sector] == [40, 40, 40]  # AAPL + MSFT
    overall = series(mon.store, 86400, "overall")
    assert [q["n"] for q in overall] == [60, 60, 60]
    hourly = series(mon.store, 3600, "overall")
    assert sum(q["n"] for q in hourly) == 180 and len(hourly) > 3


def test_restart_takes_up_where_it_stopped(tmp_path, scorer):
    """A second run over the same file scores nothing again and loses nothing."""
    items = stream(days=10, burst=None)
    path = write_stream(tmp_path / "s.jsonl", items[:300])
    db = tmp_path / "m.db"
    _replay(db, scorer, path)
    first = scorer.calls
    write_stream(path, items)  # the file grew
    mon, stats = _replay(db, scorer, path)
    assert stats.skipped == 300 and stats.scored == len(items) - 300
    assert mon.store.counts()["scored"] == len(items)
    assert len(set(scorer.texts)) == len(scorer.texts) == len(items)
    assert scorer.calls > first


def test_cooldown_and_minimum_volume_hold_alerts_back(tmp_path, scorer):
    from dataclasses import replace

    path = write_stream(tmp_path / "s.jsonl", stream(seed=11))
    days = lambda m: sorted(a["window"]["start"][:10] for a in m.store.alerts())  # noqa: E731
    # the default cooldown (2 days) keeps the burst's second day quiet
    mon, _ = _replay(tmp_path / "a.db", scorer, path)
    assert days(mon) == ["2024-03-25"]
    no_cool = Monitor(
        Store(str(tmp_path / "b.db")), scorer, 86400, replace(AlertRule(), cooldown=0), None, COLS
    )
    for ev in read_file(path):
        no_cool.add(ev, "s", None)
    no_cool.finish()
    assert days(no_cool) == ["2024-03-25", "2024-03-26"]
    few = write_stream(tmp_path / "few.jsonl", stream(seed=11, per_day=6))
    quiet, _ = _replay(tmp_path / "c.db", scorer, few)
    assert quiet.store.alerts() == []  # 6 items a day: under --min-volume 10


def test_a_large_batch_scores_in_few_calls_with_the_same_store_and_alerts(tmp_path):
    """Replay batches: N items in ceil(N / batch) scorer calls, nothing else changes."""
    from tests.monitor.conftest import KeywordScorer

    path = write_stream(tmp_path / "s.jsonl", stream(seed=11))  # 1,800 unique texts
    got = {}
    for batch in (64, 500, 2048):
        sc = KeywordScorer()
        mon, stats = _replay(tmp_path / f"b{batch}.db", sc, path, batch_size=batch)
        assert stats.scored == 1800
        assert sc.calls == -(-1800 // batch), (batch, sc.calls)
        assert len(sc.texts) == 1800
        got[batch] = (
            [(a["entity"], a["window"]["start"], a["p_value"]) for a in mon.store.alerts()],
            mon.store.all("SELECT item_id, polarity FROM scores ORDER BY item_id"),
        )
    assert got[64][0] and got[64][0][0][0] == "AAPL"
    assert got[64] == got[500] == got[2048]


def test_a_trickling_live_source_does_not_wait_for_a_full_batch(tmp_path, scorer):
    """max_wait: an item that waited that long goes with the next arrival, batch unfilled."""
    import time

    mon = Monitor(
        Store(str(tmp_path / "m.db")), scorer, 86400, batch_size=1000, live=True, max_wait=0.2
    )
    for k in range(6):
        mon.add(("rec", {"text": f"steady item {k}"}, f"l{k}"), "s", None)
        time.sleep(0.12)
    # items 0-1 waited 0.24 s when item 2 came: scored then, not at item 1,000
    assert scorer.calls >= 2 and mon.stats.scored >= 3
    stats = mon.finish()
    assert stats.scored == 6
    # without max_wait (a replay) the same items wait for the batch or the end
    quiet = Monitor(Store(str(tmp_path / "q.db")), scorer, 86400, batch_size=1000)
    before = scorer.calls
    for k in range(3):
        quiet.add(("rec", {"text": f"other item {k}"}, f"l{k}"), "s", None)
        time.sleep(0.12)
    assert scorer.calls == before and quiet.stats.scored == 0
