"""Short texts and the size of the test set."""

from tests.doctor.helpers import distinct, ex, exs, run
from tunewise.doctor.sizes import ci_width


def test_short_texts_counts_empty_and_one_word_rows():
    train = distinct(5) + exs(["", "ok", "hello", "  "])
    f = run("short_texts", {"train": train})
    assert not f.ok and f.severity == "warning"
    assert f.details["train"]["short_texts"] == 4 and f.details["train"]["empty_texts"] == 2


def test_short_texts_ok_for_sentences_including_unspaced_scripts():
    train = distinct(5) + [ex("这部电影非常好看"), ex("two words")]
    assert run("short_texts", {"train": train}).ok


def test_test_size_interval_and_rows_needed():
    assert round(ci_width(0.85, 700), 4) == 0.0529
    test = distinct(150, "t", "a") + distinct(150, "u", "b")
    f = run("test_size", {"train": distinct(10), "test": test})
    assert not f.ok and f.severity == "warning"
    assert f.details["rows_for_1_point"] == 4899  # 1.96^2 * .85 * .15 / .01^2
    test = distinct(1000, "t", "a") + distinct(1000, "u", "b")
    big = run("test_size", {"train": distinct(10), "test": test})
    assert big.ok and big.details["ci95_width"] <= 0.05


def test_test_size_uses_majority_share_when_higher():
    test = distinct(95, "t", "a") + distinct(5, "u", "b")
    f = run("test_size", {"train": distinct(10), "test": test})
    assert f.details["expected_accuracy"] == 0.95
