"""Repeats within a window are counted once and linked; entities from cashtags, the table,
names and aliases, and the item's own column."""

from __future__ import annotations

import pytest

from tunewise.apps.monitor.dedupe import RepeatFinder
from tunewise.apps.monitor.entities import CASHTAG, read_table
from tunewise.apps.monitor.items import Columns
from tunewise.apps.monitor.pipeline import Monitor
from tunewise.apps.monitor.store import Store
from tunewise.errors import UserError

H = "Apple shares slump after weak iPhone sales in China hit the quarter hard"


def test_exact_retweet_and_near_repeats_link_to_the_first():
    f = RepeatFinder(window=3600)
    assert f.check("a", 0, H, ["AAPL"]) is None
    assert f.check(
        "b",
        10,
        "  APPLE shares slump after weak iPhone sales in China hit the quarter hard ",
        ["AAPL"],
    ) == ("a", 1.0)
    assert f.check("c", 20, "RT @desk: " + H + " https://t.co/x", ["AAPL"]) == ("a", 1.0)
    near = f.check("d", 30, H.replace("hard", "badly"), ["AAPL"])
    assert near is not None and near[0] == "a" and 0.8 <= near[1] < 1
    # about another company, or an unrelated text: not a repeat
    assert f.check("e", 40, H, ["MSFT"]) is None
    assert (
        f.check("g", 50, "Exxon beats estimates as oil prices climb for a third week", ["AAPL"])
        is None
    )
    # outside the window: counted again
    assert f.check("h", 4000, H, ["AAPL"]) is None


def test_repeats_are_stored_linked_and_not_counted_or_scored(tmp_path, scorer):
    mon = Monitor(Store(str(tmp_path / "m.db")), scorer, 86400, cols=Columns(require_time=True))
    recs = [
        {"id": "1", "time": "2024-03-01T10:00:00Z", "text": "$AAPL " + H},
        {"id": "2", "time": "2024-03-01T10:05:00Z", "text": "RT @x: $AAPL " + H},
        {"id": "3", "time": "2024-03-01T10:06:00Z", "text": "$AAPL " + H.replace("hard", "badly")},
        {"id": "4", "time": "2024-03-01T12:00:00Z", "text": "$AAPL good results"},
    ]
    for i, r in enumerate(recs):
        mon.add(("rec", r, f"line {i + 1}"), "s", None)
    stats = mon.finish()
    assert stats.repeats == 2 and stats.scored == 2
    assert len(scorer.texts) == 2
    rows = {r[0]: (r[1], r[2]) for r in mon.store.all("SELECT id, dup_of, copies FROM items")}
    assert rows["2"][0] == "1" and rows["3"][0] == "1" and rows["1"] == (None, 3)
    assert mon.store.counts()["counted"] == 2


def test_repeat_finder_state_survives_a_restart(tmp_path, scorer):
    db = str(tmp_path / "m.db")
    cols = Columns(require_time=True)
    m1 = Monitor(Store(db), scorer, 86400, cols=cols)
    m1.add(("rec", {"id": "1", "time": "2024-03-01T10:00:00Z", "text": H}, "l1"), "s", None)
    m1.finish()
    m2 = Monitor(Store(db), scorer, 86400, cols=cols)
    m2.add(("rec", {"id": "2", "time": "2024-03-01T10:30:00Z", "text": H}, "l2"), "s", None)
    assert m2.finish().repeats == 1


@pytest.fixture
def table(tmp_path):
    p = tmp_path / "stocks.csv"
    p.write_text(
        "ticker,company,sector,aliases\n"
        "AAPL,Apple Inc.,Technology,iPhone maker;Cupertino\n"
        "XOM,Exxon Mobil Corporation,Energy,Exxon\n"
        "IT,Gartner Inc,Technology,\n"
    )
    return read_table(p)


def test_entities_from_cashtags_table_names_aliases_and_the_item(table):
    assert table.find("$AAPL and $msft up") == ["AAPL", "MSFT"]
    assert table.find("Apple and Exxon Mobil report today") == ["AAPL", "XOM"]
    assert table.find("the iPhone maker slips; XOM flat") == ["XOM", "AAPL"]
    assert table.find("it is what it is") == []  # the ticker IT only as an upper-case word
    assert table.find("IT spending rises") == ["IT"]
    assert table.find("nothing here", ["XOM"]) == ["XOM"]
    assert table.sector("XOM") == "Energy"
    assert [m.group(1) for m in CASHTAG.finditer("$RDS-B and $BRK.A, not US$5")] == [
        "RDS-B",
        "BRK.A",
    ]


def test_an_item_about_several_entities_counts_for_each(tmp_path, scorer, table):
    from tunewise.apps.monitor.aggregate import series

    mon = Monitor(Store(str(tmp_path / "m.db")), scorer, 86400, entities=table)
    mon.add(("rec", {"text": "Apple and Exxon both look bad", "ticker": "x"}, "l1"), "s", None)
    mon.finish()
    ents = {p["key"] for p in series(mon.store, 86400, "entity")}
    assert ents == {"AAPL", "XOM"}
    assert {p["key"] for p in series(mon.store, 86400, "sector")} == {"Technology", "Energy"}


def test_entity_table_without_ticker_column_is_a_user_error(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("symbol,name\nAAPL,Apple\n")
    with pytest.raises(UserError, match="needs a 'ticker' column"):
        read_table(p)


def test_one_tweet_listed_under_several_tickers_is_one_item_about_each(tmp_path, scorer):
    """StockNet has a row per (ticker, tweet): the tweet is scored once, counted for both."""
    from tunewise.apps.monitor.aggregate import series

    rows = [
        {"tweet_id": "9", "ts_utc": "2014-01-02T10:00:00Z", "ticker": "AAPL", "text": "bad day"},
        {"tweet_id": "9", "ts_utc": "2014-01-02T10:00:00Z", "ticker": "GOOG", "text": "bad day"},
    ]
    db = str(tmp_path / "m.db")
    cols = Columns("text", "ts_utc", None, "ticker", require_time=True)
    for batch in ([rows[0], rows[1]], [rows[1]]):  # same batch, then a later one
        mon = Monitor(Store(db), scorer, 86400, cols=cols)
        for i, r in enumerate(batch):
            mon.add(("rec", r, f"line {i}"), "s", None)
        mon.finish()
    assert len(scorer.texts) == 1
    assert {p["key"]: p["n"] for p in series(Store(db), 86400, "entity")} == {"AAPL": 1, "GOOG": 1}
    # the second row arriving in a later batch (or run) adds its ticker too
    mon = Monitor(Store(db), scorer, 86400, cols=cols)
    mon.add(("rec", {**rows[0], "ticker": "MSFT"}, "line 9"), "s", None)
    mon.finish()
    assert {p["key"] for p in series(Store(db), 86400, "entity")} == {"AAPL", "GOOG", "MSFT"}
    assert len(scorer.texts) == 1
