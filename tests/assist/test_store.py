"""Every turn is stored with its decision and scores, masked before storage (the raw card
number, IBAN, e-mail and phone are not in the database's files), in SQLite and in a real
PostgreSQL server; session state survives a restart; export marks handed-off turns."""

from __future__ import annotations

import csv

import pytest

from tests.assist.conftest import FAQ_Q, IN_SCOPE, OUT_OF_SCOPE, make_assistant
from tests.pgserver import postgres, postgres_url  # noqa: F401  (fixtures)
from tunewise.apps.assist.export import export_turns
from tunewise.apps.assist.store import Store, db_url
from tunewise.errors import UserError

RAW = {
    "card": "4111 1111 1111 1111",
    "iban": "GB82 WEST 1234 5698 7654 32",
    "email": "jane.roe@example.com",
    "phone": "+44 20 7946 0958",
}
PRIVATE = (
    f"my card {RAW['card']} still has not arrived; iban {RAW['iban']}, mail {RAW['email']}, "
    f"phone {RAW['phone']}"
)


def _talk(store):
    a = make_assistant(store=store)
    a.answer("alice", PRIVATE)
    a.answer("alice", FAQ_Q)
    a.answer("bob", OUT_OF_SCOPE)
    a.answer("bob", IN_SCOPE)  # stays handed off
    return a


def _check_logged(store):
    convs = {c["id"]: c for c in store.conversations()}
    assert set(convs) == {"alice", "bob"}
    alice, bob = convs["alice"], convs["bob"]
    assert not alice["handed_off"] and bob["handed_off"] and "abstained" in bob["handoff_reason"]
    first = alice["turns"][0]
    assert first["message"] == (
        "my card [card] still has not arrived; iban [iban], mail [email], phone [phone]"
    )
    assert first["intent"] == "card_arrival" and first["decision"] == "intent"
    assert first["confidence"] == pytest.approx(0.9) and first["faq_id"] == "faq-arrival"
    assert alice["turns"][1]["decision"] == "faq" and alice["turns"][1]["faq_score"] == 1.0
    assert [t["turn"] for t in bob["turns"]] == [1, 2] and all(t["handoff"] for t in bob["turns"])
    assert [c["id"] for c in store.conversations(handed_off=True)] == ["bob"]


def test_sqlite_store_masks_before_storage_and_keeps_sessions(tmp_path):
    db = tmp_path / "conv.db"
    s = Store(db)
    _talk(s)
    _check_logged(s)
    s.close()
    raw = db.read_bytes()
    assert b"[card]" in raw
    for value in RAW.values():
        assert value.encode() not in raw, value
    # a new server process on the same database: bob is still with a person
    a = make_assistant(store=Store(db))
    r = a.answer("bob", IN_SCOPE)
    assert r["handoff"] and r["turn"] == 3


def test_export_marks_handed_off_turns_for_labeling(tmp_path, store):
    _talk(store)
    counts = export_turns(store, tmp_path / "turns.csv")
    rows = list(csv.DictReader((tmp_path / "turns.csv").open()))
    assert counts == {"turns": 4, "needs_label": 3}  # alice's FAQ turn abstained; bob's two
    assert rows[0]["text"].startswith("my card [card]") and rows[0]["label"] == "card_arrival"
    assert rows[0]["needs_label"] == "" and rows[0]["decision"] == "intent"
    bob = [r for r in rows if r["session_id"] == "bob"]
    assert all(r["needs_label"] == "yes" and r["label"] == "" for r in bob)
    assert bob[1]["predicted_intent"] == "card_arrival"  # kept as a hint for the labeler
    with pytest.raises(UserError, match=r"write \.csv or \.jsonl"):
        export_turns(store, tmp_path / "turns.txt")


def test_db_urls_and_bad_databases(tmp_path):
    assert db_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert db_url(tmp_path / "x.db") == f"sqlite:///{tmp_path / 'x.db'}"
    with pytest.raises(UserError, match="cannot open the database"):
        Store("postgresql://nobody:secret@127.0.0.1:1/none")
    with pytest.raises(UserError) as e:
        Store("postgresql://nobody:secret@127.0.0.1:1/none")
    assert "secret" not in str(e.value)


def test_postgresql_store_against_a_real_server(postgres, postgres_url):  # noqa: F811
    assert postgres_url.startswith("postgresql://")
    s = Store(postgres_url)
    _talk(s)
    _check_logged(s)
    with s.engine.begin() as c:
        assert c.exec_driver_sql("SELECT version()").scalar().startswith("PostgreSQL")
        c.exec_driver_sql("CHECKPOINT")
    s.close()
    # the raw values never reached the server: not in its tables, WAL or anywhere on disk
    blobs = b"".join(p.read_bytes() for p in postgres.data_dir.rglob("*") if p.is_file())
    assert b"[card] still has not arrived" in blobs
    for value in RAW.values():
        assert value.encode() not in blobs, value
    r = make_assistant(store=Store(postgres_url)).answer("bob", IN_SCOPE)
    assert r["handoff"] and r["turn"] == 3
