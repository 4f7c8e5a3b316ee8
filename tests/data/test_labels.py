"""build_label_map and check_labels."""

from __future__ import annotations

import random

import pytest

from tunewise.data import Example, build_label_map, check_labels
from tunewise.errors import UserError


def exs(*labels, where=""):
    return [Example(f"t{i}", lab, where=where.format(i=i)) for i, lab in enumerate(labels)]


def test_int_like_labels_sort_numerically():
    assert build_label_map(exs("10", "2", "1", "2", "-1")) == ["-1", "1", "2", "10"]


def test_other_labels_sort_as_strings():
    assert build_label_map(exs("pos", "neg", "10", "2")) == ["10", "2", "neg", "pos"]


def test_label_map_ignores_order_and_missing_labels():
    labels = ["b", "a", "c", None, "a"]
    want = build_label_map(exs(*labels))
    rng = random.Random(0)
    for _ in range(5):
        rng.shuffle(labels)
        assert build_label_map(exs(*labels)) == want == ["a", "b", "c"]


def test_multi_label_map_is_the_union():
    assert build_label_map(exs(["y", "x"], ["z"], [], ["x"])) == ["x", "y", "z"]


def test_empty():
    assert build_label_map([]) == []


def test_check_labels_accepts_known_labels():
    check_labels(exs("a", "b", ["a", "b"]), ["a", "b"], "dev.csv")


def test_check_labels_names_first_row_all_unknown_labels_and_train_labels():
    dev = exs("a", "neutral", "b", "other", "neutral", where="dev.csv line {i}")
    with pytest.raises(UserError) as info:
        check_labels(dev, ["a", "b"], "dev.csv")
    assert str(info.value) == (
        "dev.csv line 1: label 'neutral' does not occur in the training data; "
        "3 row(s) of dev.csv have labels train lacks ('neutral', 'other'); "
        "train's labels: a, b"
    )


def test_check_labels_multi_label():
    with pytest.raises(UserError, match="label 'z' does not occur"):
        check_labels(exs(["a"], ["a", "z"], where="t.jsonl line {i}"), ["a", "b"], "t.jsonl")
