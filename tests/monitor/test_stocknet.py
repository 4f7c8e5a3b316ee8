"""On the real StockNet stream and prices (shared datasets): the replay reads its gzip CSV,
counts retweets once, keeps one tweet under several tickers as one item, and evaluate reads
its prices."""

from __future__ import annotations

import gzip
import io
import json
from itertools import islice

import pytest

from tests.conftest import SHARED
from tunewise.apps.monitor.evaluate import evaluate_alerts
from tunewise.apps.monitor.items import Columns
from tunewise.apps.monitor.pipeline import Monitor
from tunewise.apps.monitor.sources import read_file
from tunewise.apps.monitor.store import Store

pytestmark = pytest.mark.shared
D = SHARED / "stocknet_stream"


def test_replay_of_real_tweets(tmp_path, scorer):
    src = tmp_path / "tweets.csv.gz"
    with io.TextIOWrapper(gzip.open(D / "tweets.csv.gz"), encoding="utf-8") as f:
        head = list(islice(f, 4001))
    with gzip.open(src, "wt", encoding="utf-8") as out:
        out.writelines(head)
    mon = Monitor(
        Store(str(tmp_path / "m.db")),
        scorer,
        86400,
        cols=Columns("text", "ts_utc", "tweet_id", "ticker", require_time=True),
    )
    for ev in read_file(src):
        mon.add(ev, "tweets", None)
    stats = mon.finish()
    c = mon.store.counts()
    assert stats.read == 4000 and stats.rejected == 0
    ids = {line.split(",")[3] for line in head[1:]}
    assert c["items"] == len(ids) < 4000  # one item per tweet, whatever its tickers
    assert c["repeats"] > 0  # retweets of one text within the window count once
    multi = mon.store.one(
        "SELECT count(*) FROM (SELECT item_id FROM item_entities GROUP BY item_id "
        "HAVING count(*) > 1) t"
    )[0]
    assert multi > 0


def test_evaluate_reads_stocknet_prices(tmp_path):
    alerts = tmp_path / "a.jsonl"
    rows = [
        {
            "id": str(i),
            "entity": "AAPL",
            "direction": "negative",
            "window": {
                "start": f"2014-01-{d:02d}T00:00:00Z",
                "end": f"2014-01-{d + 1:02d}T00:00:00Z",
            },
        }
        for i, d in enumerate((2, 3, 6, 7, 8))
    ]
    alerts.write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = evaluate_alerts(alerts, D / "prices.csv", [], None, n_boot=300)
    r = res["prices"]["negative"]
    assert r["with_prices"] == 5 and 0 < r["base_rate"] < 1
    # AAPL 2014-01-02 and -03 were down days (prices.csv)
    assert r["hits"] >= 2 and r["lift"] == pytest.approx(r["precision"] / r["base_rate"], rel=1e-3)
