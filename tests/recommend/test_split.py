"""The split never leaks: the last liked items by time are held out, cold-start items never
reach training, and what a user saw before the test is excluded from their candidates."""

from __future__ import annotations

from tests.recommend.conftest import write_data
from tunewise.apps.recommend.data import read_data
from tunewise.apps.recommend.split import split


def _bundle(tmp_path, **kw):
    inter, items = write_data(tmp_path)
    data = read_data(inter, items, item_text="{title}. {genres}")
    return data, split(data, **kw)


def test_the_last_liked_items_by_time_are_held_out(tmp_path):
    data, b = _bundle(tmp_path, holdout=3, cold_share=0.1)
    ids = b["items"]["ids"]
    for uid, rec in b["users"].items():
        liked = sorted(
            (
                x
                for x in data.positives
                if x.user == uid and ids.index(x.item) not in b["cold_items"]
            ),
            key=lambda x: x.time,
        )
        assert [ids[i] for i in rec["warm_test"]] == [x.item for x in liked[-3:]]
        assert [ids[i] for i in rec["train"]] == [x.item for x in liked[:-3]]
        assert not set(rec["seen"]) & set(rec["warm_test"])


def test_cold_start_items_are_never_in_training(tmp_path):
    data, b = _bundle(tmp_path, holdout=3, cold_share=0.1)
    cold = set(b["cold_items"])
    assert cold == {b["items"]["ids"].index(str(i)) for i in range(37, 41)}
    for rec in b["users"].values():
        assert not cold & (set(rec["train"]) | set(rec["seen"]))
    rec = b["split"]
    assert rec["cold_items"] == 4 and rec["leakage_checks"]["cold_items_in_training"] == 0
    assert rec["cold_test_positives"] == 48


def test_no_cold_items_without_a_cold_share(tmp_path):
    _, b = _bundle(tmp_path, holdout=3, cold_share=0.0)
    assert b["cold_items"] == [] and b["split"]["cold_cut_time"] is None
