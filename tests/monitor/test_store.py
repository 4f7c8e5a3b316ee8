"""The store: versioned migrations, WAL, one transaction per batch, and the same behaviour on
a real PostgreSQL server."""

from __future__ import annotations

import pytest

from tests.monitor.conftest import stream, write_stream
from tunewise.apps.monitor.aggregate import series
from tunewise.apps.monitor.items import Columns, Item
from tunewise.apps.monitor.pipeline import Monitor
from tunewise.apps.monitor.scoring import Score
from tunewise.apps.monitor.sources import read_file
from tunewise.apps.monitor.store import MIGRATIONS, SCHEMA_VERSION, Store
from tunewise.errors import UserError

COLS = Columns("text", "time", "id", "ticker", require_time=True)


def test_sqlite_is_wal_and_migrates_an_old_store(tmp_path):
    db = str(tmp_path / "m.db")
    s = Store.__new__(Store)  # a store left at version 1 by an older tunewise
    Store.__init__(s, db)
    with s.engine.begin() as c:
        from sqlalchemy import text

        c.execute(text("DROP TABLE entities"))
        c.execute(text("DROP TABLE flags"))
        c.execute(text("UPDATE meta SET value = '1' WHERE key = 'schema_version'"))
    assert Store(db).version() == SCHEMA_VERSION == len(MIGRATIONS)
    assert Store(db).one("PRAGMA journal_mode")[0] == "wal"
    assert Store(db).all("SELECT count(*) FROM entities")[0][0] == 0


def test_a_store_from_a_newer_tunewise_is_refused(tmp_path):
    db = str(tmp_path / "m.db")
    s = Store(db)
    with s.engine.begin() as c:
        from sqlalchemy import text

        c.execute(text("UPDATE meta SET value = '99' WHERE key = 'schema_version'"))
    with pytest.raises(UserError, match="schema version 99"):
        Store(db)


def test_a_failing_batch_leaves_nothing_behind(tmp_path):
    s = Store(str(tmp_path / "m.db"))
    items = [Item("a", 1, "s", "x", ["AAPL"]), Item("b", 2, "s", "y", [])]
    sc = Score("neg", "negative", 0.9, 0.05, {"neg": 0.9})
    s.write_batch(items[:1], {"a": sc}, {}, [], ("s", 1), ("r", "v"))
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError):  # scoring "a" twice is a bug: the whole batch is refused
        s.write_batch(items[1:] + items[:1], {"a": sc}, {}, [], ("s", 3), ("r", "v"))
    assert s.counts()["items"] == 1 and s.cursor("s") == 1


def test_bad_db_flags_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="is a folder"):
        Store(str(tmp_path))
    with pytest.raises(UserError, match="does not exist"):
        Store(str(tmp_path / "nope" / "m.db"))
    with pytest.raises(UserError, match="postgresql://"):
        Store("mysql://x/y")
    with pytest.raises(UserError, match="no such file"):
        Store(str(tmp_path / "absent.db"), create=False)


def test_postgresql_store_holds_the_same_stream(pg_url, tmp_path, scorer):
    path = write_stream(tmp_path / "s.jsonl", stream(seed=11))
    store = Store(pg_url)
    assert store.version() == SCHEMA_VERSION
    mon = Monitor(store, scorer, 86400, cols=COLS)
    for ev in read_file(path):
        mon.add(ev, "s", None)
    mon.finish()
    c = Store(pg_url).counts()  # a second connection sees it all
    assert c["items"] == c["scored"] == 1800
    alerts = store.alerts()
    assert alerts and {a["entity"] for a in alerts} == {"AAPL"}
    assert [p["n"] for p in series(store, 86400, "entity", "MSFT")] == [20] * 30
    # and it resumes there too: nothing scored twice
    mon2 = Monitor(Store(pg_url), scorer, 86400, cols=COLS)
    for ev in read_file(path):
        mon2.add(ev, "s", None)
    assert mon2.finish().skipped == 1800 and Store(pg_url).counts()["scored"] == 1800
