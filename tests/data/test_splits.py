"""stratified_split, dedupe and load_splits."""

from __future__ import annotations

from collections import Counter

import pytest

from tunewise.config import DataConfig, SplitConfig
from tunewise.data import Example, dedupe, stratified_split
from tunewise.data.examples import normalize_text
from tunewise.errors import UserError


def load_splits(data, multi_label=False):
    """Read and split as a run does (the runner's load_data), in the shape tests read."""
    from types import SimpleNamespace

    from tunewise.config import Config
    from tunewise.run.runner import load_data

    cfg = Config(data=data, task={"multi_label": multi_label})
    _, d, info = load_data(cfg)
    return SimpleNamespace(
        train=d.train, dev=d.dev, test=d.test, labels=d.info["labels"], info={**d.info, **info}
    )


def make(counts: dict[str, int]) -> list[Example]:
    return [Example(f"{lab} {i}", lab) for lab, n in counts.items() for i in range(n)]


def labels(rows) -> Counter:
    return Counter(e.label for e in rows)


# ---- stratified_split -----------------------------------------------------------------------


def test_sizes_and_strata():
    examples = make({"a": 80, "b": 20})
    train, dev, test = stratified_split(examples, dev=0.1, test=0.2, seed=0)
    assert labels(dev) == {"a": 8, "b": 2}
    assert labels(test) == {"a": 16, "b": 4}
    assert labels(train) == {"a": 56, "b": 14}


def test_partition_keeps_input_order():
    examples = make({"a": 30, "b": 17, "c": 9})
    parts = stratified_split(examples, dev=0.15, test=0.15, seed=3)
    assert sorted(id(e) for p in parts for e in p) == sorted(id(e) for e in examples)
    for part in parts:
        pos = [examples.index(e) for e in part]
        assert pos == sorted(pos)


def test_total_sizes_follow_shares_across_many_small_classes():
    # per-class rounding would give every 5-example class 0 dev rows (5 * 0.1 = 0.5 -> 0)
    examples = make({f"c{i}": 5 for i in range(20)})
    train, dev, test = stratified_split(examples, dev=0.1, test=0.1, seed=0)
    assert (len(train), len(dev), len(test)) == (80, 10, 10)
    # and no class loses more than one example to each held-out split
    assert max(labels(dev).values()) == 1 and max(labels(test).values()) == 1


def test_seeded_and_deterministic():
    examples = make({"a": 50, "b": 50})
    one = stratified_split(examples, dev=0.1, test=0.1, seed=7)
    assert one == stratified_split(examples, dev=0.1, test=0.1, seed=7)
    other = stratified_split(examples, dev=0.1, test=0.1, seed=8)
    assert one[1] != other[1]


def test_a_new_class_does_not_move_the_others():
    base = make({"a": 40, "b": 40})
    more = [Example(f"new {i}", "A") for i in range(40)] + base  # "A" sorts and comes first

    def dev_of_a(examples):
        return [
            e.text
            for e in stratified_split(examples, dev=0.1, test=0.1, seed=0)[1]
            if e.label == "a"
        ]

    assert dev_of_a(base) == dev_of_a(more)


def test_zero_share_gives_empty_split():
    train, dev, test = stratified_split(make({"a": 10, "b": 10}), dev=0.0, test=0.2, seed=0)
    assert dev == [] and len(test) == 4 and len(train) == 16


def test_tiny_classes_stay_in_train():
    examples = make({"big": 50, "one": 1, "two": 2})
    train, dev, test = stratified_split(examples, dev=0.4, test=0.4, seed=0)
    assert labels(train)["one"] == 1
    assert labels(train)["two"] >= 1  # every class keeps a training example
    assert all(labels(train)[k] >= 1 for k in ("big", "one", "two"))


def test_duplicates_never_straddle_splits():
    examples = [Example(f"text {i % 25}", "ab"[i % 2]) for i in range(100)]
    examples += [Example(f"Text  {i}", "ab"[i % 2]) for i in range(25)]  # same, after normalizing
    parts = stratified_split(examples, dev=0.2, test=0.2, seed=1)
    seen = [{normalize_text(e.text) for e in p} for p in parts]
    assert not (seen[0] & seen[1]) and not (seen[0] & seen[2]) and not (seen[1] & seen[2])
    assert all(seen)


def test_multi_label_stratified_by_first_label():
    examples = [Example(f"x{i}", ["a", "z"]) for i in range(50)]
    examples += [Example(f"y{i}", ["b", "z"]) for i in range(50)]
    _, dev, _ = stratified_split(examples, dev=0.2, test=0.0, seed=0)
    assert Counter(e.label[0] for e in dev) == {"a": 10, "b": 10}


def test_bad_shares_are_rejected():
    with pytest.raises(ValueError):
        stratified_split(make({"a": 5}), dev=0.6, test=0.5, seed=0)


# ---- dedupe ---------------------------------------------------------------------------------


def test_dedupe_normalizes_and_keeps_first():
    examples = [
        Example("Hello  World", "a", where="1"),
        Example(" hello world\n", "a", where="2"),
        Example("ＨＥＬＬＯ world", "a", where="3"),  # fullwidth letters: NFKC folds them
        Example("other", "b", where="4"),
    ]
    kept, stats = dedupe(examples)
    assert [e.where for e in kept] == ["1", "4"]
    assert stats == {"duplicates_removed": 2, "conflicts_removed": 0}


def test_dedupe_drops_every_copy_of_a_conflict():
    examples = [Example("x", "a"), Example("y", "a"), Example("X", "b"), Example("x", "a")]
    kept, stats = dedupe(examples)
    assert [e.text for e in kept] == ["y"]
    assert stats == {"duplicates_removed": 0, "conflicts_removed": 3}


def test_dedupe_pairs_need_both_texts_equal():
    examples = [Example("p", "a", "h1"), Example("p", "a", "h2"), Example("P", "a", "H1")]
    kept, stats = dedupe(examples)
    assert [(e.text, e.text_pair) for e in kept] == [("p", "h1"), ("p", "h2")]
    assert stats["duplicates_removed"] == 1


def test_dedupe_multi_label_order_does_not_matter():
    kept, stats = dedupe([Example("x", ["a", "b"]), Example("x", ["b", "a"])])
    assert len(kept) == 1 and stats == {"duplicates_removed": 1, "conflicts_removed": 0}


# ---- load_splits ----------------------------------------------------------------------------


def csv_file(path, rows):
    path.write_text("text,label\n" + "".join(f"{t},{lab}\n" for t, lab in rows))
    return path


def test_no_train_file():
    with pytest.raises(UserError) as info:
        load_splits(DataConfig(), multi_label=False)
    assert str(info.value) == "no training data: give --train FILE"


def test_train_only_is_split_and_recorded(tmp_path):
    train = csv_file(tmp_path / "train.csv", [(f"t{i}", "ab"[i % 2]) for i in range(100)])
    cfg = DataConfig(train=train, split=SplitConfig(dev=0.1, test=0.2, seed=5))
    s = load_splits(cfg, multi_label=False)
    assert (len(s.train), len(s.dev), len(s.test)) == (70, 10, 20)
    assert s.labels == ["a", "b"]
    assert {k: s.info["split"][k] for k in ("from", "dev", "test", "seed")} == {
        "from": "train",
        "dev": 0.1,
        "test": 0.2,
        "seed": 5,
    }
    assert s.info["rows"] == {"train": 70, "dev": 10, "test": 20}
    assert s.info["files"] == {"train": str(train), "dev": None, "test": None}
    assert s.dev[0].where.startswith(f"{train} line ")  # errors still point into the file


def test_given_files_are_not_split(tmp_path):
    train = csv_file(tmp_path / "train.csv", [("a", "x"), ("b", "y"), ("c", "x")])
    dev = csv_file(tmp_path / "dev.csv", [("d", "y")])
    test = csv_file(tmp_path / "test.csv", [("e", "x"), ("f", "x")])
    s = load_splits(DataConfig(train=train, dev=dev, test=test), multi_label=False)
    assert (len(s.train), len(s.dev), len(s.test)) == (3, 1, 2)
    assert "split" not in s.info


def test_only_the_missing_split_is_made(tmp_path):
    train = csv_file(tmp_path / "train.csv", [(f"t{i}", "ab"[i % 2]) for i in range(50)])
    dev = csv_file(tmp_path / "dev.csv", [("d", "a")])
    s = load_splits(DataConfig(train=train, dev=dev), multi_label=False)
    assert [e.text for e in s.dev] == ["d"]
    assert (len(s.train), len(s.test)) == (45, 5)
    assert {k: s.info["split"][k] for k in ("from", "dev", "test", "seed")} == {
        "from": "train",
        "dev": None,
        "test": 0.1,
        "seed": 0,
    }


def test_single_class(tmp_path):
    train = csv_file(tmp_path / "train.csv", [("a", "x"), ("b", "x")])
    with pytest.raises(UserError) as info:
        load_splits(DataConfig(train=train), multi_label=False)
    assert str(info.value) == (
        f"{train}: only one class ('x') in column 'label'; classification needs at least two"
    )


def test_unknown_dev_label(tmp_path):
    train = csv_file(tmp_path / "train.csv", [("a", "x"), ("b", "y")])
    dev = csv_file(tmp_path / "dev.csv", [("c", "x"), ("d", "z")])
    with pytest.raises(UserError) as info:
        load_splits(DataConfig(train=train, dev=dev, test=dev), multi_label=False)
    assert str(info.value).startswith(f"{dev} line 3: label 'z' does not occur in the training")


def test_columns_and_multi_label_are_passed_on(tmp_path):
    train = tmp_path / "train.tsv"
    train.write_text("s\ttags\n" + "".join(f"t{i}\t{'a;b' if i % 2 else 'c'}\n" for i in range(20)))
    cfg = DataConfig(train=train, text_column="s", label_column="tags", label_sep=";")
    s = load_splits(cfg, multi_label=True)
    assert s.labels == ["a", "b", "c"]
    assert ["a", "b"] in [e.label for e in s.train]


def test_bad_train_file_error_surfaces(tmp_path):
    train = tmp_path / "train.csv"
    train.write_text("sentence,label\nx,1\n")
    with pytest.raises(UserError, match="no column 'text'"):
        load_splits(DataConfig(train=train), multi_label=False)
