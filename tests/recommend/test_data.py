"""Reading interactions and item texts, and the doctor's checks of them."""

from __future__ import annotations

import csv

import pytest

from tunewise.apps.recommend.data import read_data, render
from tunewise.errors import UserError


def _csv(path, rows):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


@pytest.fixture
def files(tmp_path):
    items = _csv(
        tmp_path / "items.csv",
        [
            {"item_id": "a", "title": "Alpha", "genres": "Comedy", "description": "fun"},
            {"item_id": "b", "title": "Beta", "genres": "Drama", "description": ""},
            {"item_id": "c", "title": "", "genres": "", "description": ""},
        ],
    )
    inter = _csv(
        tmp_path / "inter.csv",
        [
            {"user_id": "1", "item_id": "a", "rating": 5, "timestamp": 30},
            {"user_id": "1", "item_id": "b", "rating": 2, "timestamp": 10},
            {"user_id": "1", "item_id": "a", "rating": 4, "timestamp": 40},
            {"user_id": "2", "item_id": "zzz", "rating": 5, "timestamp": 50},
            {"user_id": "2", "item_id": "b", "rating": 4, "timestamp": 60},
        ],
    )
    return inter, items


def test_template_renders_item_columns_and_tidies_empty_values():
    row = {"title": "Beta", "genres": "Drama", "description": ""}
    assert render("{title}. {genres}. {description}", row) == "Beta. Drama"
    assert render("{title}. {genres}", {"title": "A", "genres": None}) == "A"


def test_unknown_template_column_is_one_clear_error(files):
    inter, items = files
    with pytest.raises(UserError, match=r"no column 'plot'.*item_id, title, genres"):
        read_data(inter, items, item_text="{title}. {plot}")


def test_ratings_become_positives_at_min_rating(files):
    inter, items = files
    d = read_data(inter, items, item_text="{title}", min_rating=4)
    assert {(x.user, x.item, x.rating) for x in d.positives} == {
        ("1", "a", 5.0),
        ("1", "a", 4.0),
        ("2", "b", 4.0),
    }
    assert d.settings["feedback"] == "explicit ratings"


def test_without_a_rating_column_every_event_is_a_positive(files):
    inter, items = files
    d = read_data(inter, items, item_text="{title}", rating_column="stars")
    assert len(d.positives) == len(d.interactions) == 4  # the unknown item is dropped
    assert d.settings["feedback"] == "implicit events"


def test_doctor_reports_every_data_problem(files):
    inter, items = files
    doc = read_data(inter, items, item_text="{title}. {genres}", min_user_positives=3).doctor
    assert doc["items_without_text"]["count"] == 1 and doc["items_without_text"]["examples"] == [
        "c"
    ]
    assert doc["unknown_items"]["count"] == 1 and "zzz" in doc["unknown_items"]["examples"][0]
    assert doc["duplicate_interactions"]["count"] == 1
    assert doc["users_with_few_interactions"]["count"] == 2
    assert doc["time_order"]["out_of_order_rows"] == 1
    assert not any(c["ok"] for k, c in doc.items() if k != "time_order")


def test_a_missing_user_column_names_the_file_and_columns(files):
    inter, items = files
    with pytest.raises(UserError, match=r"inter.csv: no column 'uid' \(--user-column\)"):
        read_data(inter, items, user_column="uid")


def test_times_may_be_iso_dates_and_bad_ones_name_the_line(tmp_path, files):
    _, items = files
    rows = [
        {"user_id": "1", "item_id": "a", "timestamp": "2024-01-02"},
        {"user_id": "1", "item_id": "b", "timestamp": "2024-01-01T10:00:00"},
    ]
    d = read_data(_csv(tmp_path / "iso.csv", rows), items, item_text="{title}")
    assert d.interactions[0].time > d.interactions[1].time
    rows.append({"user_id": "2", "item_id": "a", "timestamp": "yesterday"})
    with pytest.raises(UserError, match=r"iso2.csv line 4, column 'timestamp': 'yesterday'"):
        read_data(_csv(tmp_path / "iso2.csv", rows), items, item_text="{title}")
