"""The user tower's text: the latest liked items, most recent first, reviews attached."""

from __future__ import annotations

from tunewise.tasks.recommend.bundle import history_text, user_pieces


def test_history_is_the_latest_items_most_recent_first():
    assert history_text(["a", "b", "c", "d"], 3) == "d | c | b"
    assert history_text(["a", "", "b"], 5) == "b | a"


def test_reviews_join_their_items():
    bundle = {"items": {"texts": ["Alpha. Comedy", "Beta. Drama", "Gamma"]}}
    user = {"train": [2, 0], "reviews": ["", "loved it"]}
    assert user_pieces(bundle, user) == ["Gamma", "Alpha. Comedy Review: loved it"]
    assert user_pieces(bundle, {"train": [1]}) == ["Beta. Drama"]
