"""K-shot draws: K per class, seeded and recorded, dev disjoint from train, never test."""

from __future__ import annotations

import numpy as np
import pytest

from tunewise.data import Example
from tunewise.errors import UserError
from tunewise.fewshot.draws import across, sentence
from tunewise.fewshot.sampling import class_counts, make_draws, sample_per_class


def _rows(n=60, classes=("a", "b", "c")):
    return [
        Example(f"text {i}", classes[i % len(classes)], where=f"f line {i + 2}") for i in range(n)
    ]


def test_k_per_class_and_seeded():
    rows = _rows()
    idx = sample_per_class(rows, 4, np.random.default_rng(1))
    assert class_counts([rows[i] for i in idx]) == {"a": 4, "b": 4, "c": 4}
    assert idx == sample_per_class(rows, 4, np.random.default_rng(1))
    assert idx != sample_per_class(rows, 4, np.random.default_rng(2))


def test_draws_differ_dev_disjoint_and_recorded():
    rows = _rows()
    draws = make_draws(rows, None, shots=3, dev_shots=None, draws=3, seed=10)
    assert [d.seed for d in draws] == [10, 11, 12]
    assert len({tuple(d.record["train_rows"]) for d in draws}) == 3
    for d in draws:
        assert not set(d.record["train_rows"]) & set(d.record["dev_rows"])
        assert d.record["train_counts"] == {"a": 3, "b": 3, "c": 3}
        assert d.record["dev_counts"] == {"a": 3, "b": 3, "c": 3}
        assert d.record["dev_from"] == "train rows not in this draw's train"


def test_dev_from_dev_file_and_no_dev():
    rows, dev = _rows(), _rows(30)
    d = make_draws(rows, dev, 2, None, 1, 0)[0]
    assert d.record["dev_from"] == "dev file" and len(d.dev) == 6
    assert make_draws(rows, None, 2, 0, 1, 0)[0].dev == []


def test_multi_label_fills_every_label():
    rows = [
        Example(f"t{i}", ["x"] + (["y"] if i % 5 == 0 else []), where=str(i)) for i in range(40)
    ]
    idx = sample_per_class(rows, 3, np.random.default_rng(0))
    counts = class_counts([rows[i] for i in idx])
    assert counts["x"] >= 3 and counts["y"] >= 3


def test_empty_train_is_a_user_error():
    with pytest.raises(UserError):
        make_draws([], None, 2, None, 1, 0)


def test_across_draws_interval_is_clipped_to_its_bounds():
    s = across([0.99, 1.0, 0.9])  # mean 0.963, t half width 0.137: clipped at 1
    assert s["ci95"][1] == 1.0 and s["ci95"][0] == pytest.approx(0.9633 - 0.1366, abs=1e-3)
    assert across([0.0, 0.0, 0.3])["ci95"][0] == 0.0
    assert across([-0.5, 0.5, 0.9], (-1.0, 1.0))["ci95"][0] == -1.0  # mcc: [-1, 1]
    assert across([5.0, 9.0, 1.0], None)["ci95"][1] > 9.0  # unbounded (a loss)


def test_across_draws_interval_and_sentence():
    s = across([0.6, 0.7, 0.8])
    assert s["mean"] == pytest.approx(0.7) and s["std"] == pytest.approx(0.1)
    # t(0.975, 2) = 4.303: half width 4.303 * 0.1 / sqrt(3)
    assert s["ci95"][1] - 0.7 == pytest.approx(4.303 * 0.1 / 3**0.5, abs=1e-5)
    text = sentence({"test": {"accuracy": s}, "within_draw_se": {"accuracy": 0.02}}, 8)
    assert "variance between draws dominates" in text
    text = sentence({"test": {"accuracy": s}, "within_draw_se": {"accuracy": 0.5}}, 8)
    assert "too small to tell draws apart" in text
