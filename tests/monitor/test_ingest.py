"""Ingest: files (JSONL/CSV/.gz), followed files, paced replays, stdin, RSS; rejects counted."""

from __future__ import annotations

import gzip
import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tunewise.apps.monitor.items import Columns, Item, Reject, parse_time, to_item
from tunewise.apps.monitor.pipeline import Monitor
from tunewise.apps.monitor.sources import paced, parse_speed, read_feed, read_file, read_stdin
from tunewise.apps.monitor.store import Store
from tunewise.errors import UserError


def test_records_keep_id_time_source_text_and_bad_ones_say_why():
    cols = Columns(require_time=True)
    it = to_item({"id": 7, "time": "2024-03-01T10:00:00Z", "text": " hi "}, "s", "l1", cols)
    assert isinstance(it, Item) and (it.id, it.ts, it.source, it.text) == (
        "7",
        1709287200,
        "s",
        "hi",
    )
    cases = {
        "no text field": {"time": "2024-03-01"},
        "is empty": {"text": "  ", "time": "2024-03-01"},
        "is not a string": {"text": 5, "time": "2024-03-01"},
        "no time": {"text": "x"},
        "is not a date": {"text": "x", "time": "yesterday-ish"},
        "longer than": {"text": "x" * 20_000, "time": "2024-03-01"},
        "not an object": ["x"],
    }
    for why, rec in cases.items():
        r = to_item(rec, "s", "l2", cols)
        assert isinstance(r, Reject) and why in r.reason, (why, r)
    # a live source stamps the arrival time; the id is stable for the same record
    a = to_item({"text": "x"}, "s", "l3", Columns(), now=100)
    b = to_item({"text": "x"}, "s", "l3", Columns(), now=100)
    assert a.ts == 100 and a.id == b.id
    assert parse_time(1709287200000) == 1709287200 == parse_time("2024-03-01T10:00:00")
    assert parse_time("Fri, 01 Mar 2024 10:00:00 GMT") == 1709287200


def test_jsonl_csv_and_gzip_files_with_malformed_lines_counted(tmp_path, scorer):
    arch = tmp_path / "archive"
    arch.mkdir()
    (arch / "notes.md").write_text("not data")
    (arch / "a.jsonl").write_text(
        '{"id": "1", "time": "2024-03-01T00:00:00Z", "text": "good day"}\n'
        "{not json\n"
        '{"id": "2", "time": "2024-03-01T01:00:00Z", "text": ""}\n'
    )
    with gzip.open(arch / "b.csv.gz", "wt", encoding="utf-8") as f:
        f.write('id,time,text\n3,2024-03-01T02:00:00Z,"bad, very bad day"\n4,oops\n')
    db = Store(str(tmp_path / "m.db"))
    mon = Monitor(db, scorer, 86400, cols=Columns(require_time=True))
    for ev in read_file(arch):  # a folder: every file in it
        mon.add(ev, "archive", None)
    stats = mon.finish()
    assert stats.read == 5 and stats.stored == 2 and stats.rejected == 3
    rows = db.all("SELECT loc, reason FROM rejects ORDER BY loc")
    reasons = {loc: why for loc, why in rows}
    assert "not valid JSON" in reasons["a.jsonl line 2"]
    assert "is empty" in reasons["a.jsonl line 3"]
    assert "2 fields, the header has 3" in reasons["b.csv.gz line 3"]
    texts = {r[0] for r in db.all("SELECT text FROM items")}
    assert texts == {"good day", "bad, very bad day"}


def test_a_followed_file_is_read_as_it_grows(tmp_path):
    path = tmp_path / "live.jsonl"
    path.write_text('{"text": "one"}\n')
    stop = threading.Event()
    got = []

    def reader():
        for ev in read_file(path, follow=True, poll=0.02, stop=stop.is_set):
            if ev[0] == "rec":
                got.append(ev[1]["text"])

    t = threading.Thread(target=reader)
    t.start()
    time.sleep(0.2)
    with open(path, "a") as f:
        f.write('{"text": "tw')  # half a line is not a record yet
        f.flush()
        time.sleep(0.2)
        assert got == ["one"]
        f.write('o"}\n{"text": "three"}\n')
    time.sleep(0.3)
    stop.set()
    t.join(5)
    assert got == ["one", "two", "three"]


def test_replay_waits_by_the_items_own_time_at_the_given_speed():
    recs = [("rec", {"time": t, "text": "x"}, f"l{t}") for t in (0, 30, 60)]
    t0 = time.monotonic()
    out = [e for e in paced(iter(recs), lambda r: r["time"], 200.0) if e[0] == "rec"]
    took = time.monotonic() - t0
    assert len(out) == 3 and 0.25 <= took < 1.5  # 60 s of stream at x200 = 0.3 s
    t0 = time.monotonic()
    list(paced(iter(recs), lambda r: r["time"], parse_speed("max")))
    assert time.monotonic() - t0 < 0.1
    with pytest.raises(UserError, match="--speed"):
        parse_speed("fast")


def test_stdin_takes_json_lines_and_bare_texts():
    evs = list(read_stdin(io.StringIO('{"text": "a"}\nplain headline\n{broken\n')))
    kinds = [e[0] for e in evs]
    assert kinds == ["rec", "rec", "bad", "idle"]
    assert evs[1][1] == {"text": "plain headline"}


FEED = """<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
<item><guid>g1</guid><title>Apple shares slump on weak iPhone demand</title>
<pubDate>Fri, 01 Mar 2024 10:00:00 GMT</pubDate></item>
<item><guid>g2</guid><title>Exxon beats estimates</title>
<pubDate>Fri, 01 Mar 2024 11:00:00 GMT</pubDate></item></channel></rss>"""


@pytest.fixture
def feed_server():
    hits = []

    class H(BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            body = FEED.encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/feed.xml", hits
    srv.shutdown()


def test_rss_feed_is_polled_and_each_entry_taken_once(feed_server):
    url, hits = feed_server
    polls = {"n": 0}

    def stop():
        polls["n"] += 1
        return polls["n"] >= 2

    evs = [e for e in read_feed(url, poll=0.05, stop=stop) if e[0] == "rec"]
    assert len(hits) == 2  # polled twice
    # the second poll adds nothing (feedparser resolves a guid against the feed's URL)
    assert [e[1]["id"].rsplit("/", 1)[-1] for e in evs] == ["g1", "g2"]
    it = to_item(evs[0][1], url, evs[0][2], Columns(require_time=True))
    assert it.text.startswith("Apple shares slump") and it.ts == 1709287200


def test_unreadable_feed_is_a_reject_not_a_crash():
    evs = list(read_feed("http://127.0.0.1:9/nothing.xml", once=True))
    assert evs[0][0] == "bad" and "unreadable" in evs[0][1]


def test_records_from_every_source_end_up_in_the_store(tmp_path, scorer, feed_server):
    url, _ = feed_server
    mon = Monitor(Store(str(tmp_path / "m.db")), scorer, 86400)
    for ev in read_feed(url, once=True):
        mon.add(ev, url, None)
    for ev in read_stdin(io.StringIO("a dull day\n")):
        mon.add(ev, "stdin", None)
    mon.finish()
    rows = mon.store.all("SELECT source, text FROM items ORDER BY text")
    assert [r[0] for r in rows].count(url) == 2 and ("stdin", "a dull day") in [
        tuple(r) for r in rows
    ]
    assert json.loads(mon.store.all("SELECT probs FROM scores")[0][0])


def test_csv_quoted_fields_may_hold_newlines_and_bad_rows_still_say_why(tmp_path, scorer):
    import csv

    rows = [
        {"id": "1", "time": "2024-03-01T00:00:00Z", "text": "bad day,\nreally bad"},
        {"id": "2", "time": "2024-03-01T01:00:00Z", "text": 'a "quoted"\r\nword\n\nand more'},
        {"id": "3", "time": "2024-03-01T02:00:00Z", "text": "one line"},
    ]
    with gzip.open(tmp_path / "t.csv.gz", "wt", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, ["id", "time", "text"])
        w.writeheader()
        w.writerows(rows)
    got = list(read_file(tmp_path / "t.csv.gz"))
    assert [e[0] for e in got] == ["rec"] * 3
    assert [e[1]["text"] for e in got] == [r["text"] for r in rows]
    assert [e[2] for e in got] == ["t.csv.gz line 2", "t.csv.gz line 4", "t.csv.gz line 8"]
    # malformed: too few fields, a quote never closed (it must not swallow the rows after
    # it), a stray quote inside an unquoted field (a literal), text after a closing quote
    (tmp_path / "m.csv").write_text(
        "id,time,text\n"
        "1,2024-03-01,fine\n"
        "2,oops\n"
        '3,2024-03-01,"never closed\n'
        "4,2024-03-01,still read\n"
        '5,2024-03-01,a 5" screen\n'
        '6,2024-03-01,"closed"then more\n'
        '7,2024-03-01,"two\nlines"\n'
    )
    evs = list(read_file(tmp_path / "m.csv"))
    kinds = {e[2].rsplit(" ", 1)[1]: e[0] for e in evs}
    assert kinds == {
        "2": "rec",
        "3": "bad",
        "4": "bad",
        "5": "rec",
        "6": "rec",
        "7": "bad",
        "8": "rec",
    }, evs
    bad = {e[2]: e[1] for e in evs if e[0] == "bad"}
    assert bad["m.csv line 3"] == "row has 2 fields, the header has 3"
    assert bad["m.csv line 4"].startswith("a quoted field is never closed")
    assert "not valid CSV" in bad["m.csv line 7"]
    texts = [e[1]["text"] for e in evs if e[0] == "rec"]
    assert texts == ["fine", "still read", 'a 5" screen', "two\nlines"]
    # counted (and resumed by record, not by line)
    mon = Monitor(Store(str(tmp_path / "m.db")), scorer, 86400, cols=Columns(require_time=True))
    for ev in read_file(tmp_path / "m.csv"):
        mon.add(ev, "m.csv", None)
    stats = mon.finish()
    assert (stats.read, stats.stored, stats.rejected) == (7, 4, 3)
    assert [e[2] for e in read_file(tmp_path / "m.csv", skip=6)] == ["m.csv line 8"]


def test_a_followed_csv_waits_for_the_end_of_a_quoted_newline(tmp_path):
    path = tmp_path / "live.csv"
    path.write_text('id,text\n1,"first\n')
    stop = threading.Event()
    got = []

    def reader():
        for ev in read_file(path, follow=True, poll=0.02, stop=stop.is_set):
            if ev[0] != "idle":
                got.append(ev)

    t = threading.Thread(target=reader)
    t.start()
    time.sleep(0.2)
    assert got == []  # the record is still open
    with open(path, "a") as f:
        f.write('half"\n2,second\n')
    time.sleep(0.3)
    stop.set()
    t.join(5)
    assert [(e[0], e[1]["text"]) for e in got] == [("rec", "first\nhalf"), ("rec", "second")]
