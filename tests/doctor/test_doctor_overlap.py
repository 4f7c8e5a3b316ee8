"""Exact duplicates, texts shared between splits, splits that are the same data, conflicts."""

from tests.doctor.helpers import distinct, ex, exs, run
from tunewise.data import stratified_split
from tunewise.doctor.text import normalize


def test_normalize_folds_case_width_punctuation_and_spaces():
    assert normalize("  Hello,\tＷＯＲＬＤ!! ") == "hello world"
    assert normalize("Straße") == normalize("STRASSE")


def test_duplicates_counts_texts_and_extra_copies_after_normalization():
    train = exs(["Hello, world!", "hello world", "HELLO   world", "other text", "other text"])
    f = run("duplicates", {"train": train, "dev": distinct(3)})
    assert not f.ok and f.severity == "warning"
    d = f.details["train"]
    assert (d["duplicated_texts"], d["extra_copies"]) == (2, 3)
    assert (d["raw_duplicated_texts"], d["raw_extra_copies"]) == (1, 1)
    assert d["examples"][0]["copies"] == 3
    assert f.details["dev"]["extra_copies"] == 0


def test_duplicates_ok_when_all_distinct():
    f = run("duplicates", {"train": distinct(20)})
    assert f.ok and f.details["train"]["duplicated_texts"] == 0


def test_cross_split_overlap_finds_shared_texts_per_pair():
    train = distinct(10) + [ex("Shared text, here.")]
    test = distinct(5, "test") + [ex("shared text here")]
    dev = distinct(5, "dev")
    f = run("cross_split_overlap", {"train": train, "dev": dev, "test": test})
    assert not f.ok and f.severity == "warning"
    pairs = f.details["pairs"]
    assert pairs["train-test"]["shared_texts"] == 1
    assert pairs["train-test"]["raw_shared_texts"] == 0
    assert pairs["train-dev"]["shared_texts"] == 0
    assert pairs["train-test"]["examples"][0]["text"] == "shared text here"


def test_cross_split_overlap_ok_on_disjoint_splits():
    f = run("cross_split_overlap", {"train": distinct(10), "test": distinct(5, "test")})
    assert f.ok and f.details["pairs"]["train-test"]["shared_texts"] == 0


def test_pair_texts_must_both_match():
    train = [ex("q", "a", "first"), ex("q", "a", "second")]
    f = run("duplicates", {"train": train})
    assert f.ok


def test_same_splits_is_an_error_for_a_copied_dev_set():
    train = distinct(20)
    f = run("same_splits", {"train": train, "dev": list(train), "test": distinct(5, "test")})
    assert not f.ok and f.severity == "error"
    assert f.details["pairs"]["train-dev"]["identical"] is True
    assert "dev" in f.title and "test" not in f.title


def test_same_splits_fires_on_a_dev_set_mostly_drawn_from_train():
    train = distinct(20)
    dev = train[:6] + distinct(4, "dev")
    f = run("same_splits", {"train": train, "dev": dev})
    assert not f.ok
    assert f.details["pairs"]["train-dev"]["dev_share_in_train"] == 0.6


def test_same_splits_ok_with_a_little_overlap_and_after_stratified_split():
    train = distinct(20)
    f = run("same_splits", {"train": train, "dev": train[:1] + distinct(9, "dev")})
    assert f.ok
    rows = [ex(f"text {i % 30} of the set", "ab"[i % 2]) for i in range(200)]  # many duplicates
    tr, dev, test = stratified_split(rows, dev=0.2, test=0.2, seed=0)
    assert run("same_splits", {"train": tr, "dev": dev, "test": test}).ok
    assert run("cross_split_overlap", {"train": tr, "dev": dev, "test": test}).ok


def test_label_conflicts_within_and_between_splits():
    train = [ex("Great film", "pos"), ex("great film!", "neg"), ex("dull", "neg")]
    test = [ex("DULL", "pos"), ex("fine", "pos")]
    f = run("label_conflicts", {"train": train, "test": test})
    assert not f.ok and f.severity == "warning"
    assert f.details["within_split"] == {"train": 1, "test": 0}
    assert f.details["between_splits"] == 1
    assert {"train": ["neg", "pos"]} in [e["labels"] for e in f.details["examples"]]


def test_label_conflicts_ok_when_copies_agree():
    train = [ex("great film", "pos"), ex("Great film", "pos")]
    assert run("label_conflicts", {"train": train, "test": [ex("great film", "pos")]}).ok
