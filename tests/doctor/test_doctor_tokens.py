"""Checks under the model's tokenizer: lengths and unknown tokens."""

import pytest

from tests.doctor.helpers import distinct, ex, run


@pytest.fixture(scope="module")
def tok(tiny_model_dir):
    from tunewise.models.loading import load_tokenizer

    return load_tokenizer(str(tiny_model_dir))


def test_checks_needing_a_tokenizer_are_skipped_without_one():
    f = run("length", {"train": distinct(3)})
    assert f.ok and f.details == {"skipped": "no tokenizer"}
    assert run("unknown_tokens", {"train": distinct(3)}).details["skipped"]


def test_length_reports_distribution_and_truncation(tok):
    train = [ex("the film was good " * 10)] + [ex("good film") for _ in range(9)]
    f = run("length", {"train": train}, tokenizer=tok, max_length=16)
    assert not f.ok and f.severity == "warning"
    d = f.details["train"]
    assert d["truncated"] == 1 and d["truncated_share"] == 0.1
    assert d["min"] == 4 and d["max"] == 42  # [CLS] + 40 words + [SEP]
    hist = d["histogram"]
    assert sum(hist["counts"]) == 10 and len(hist["edges"]) == len(hist["counts"]) + 1
    assert hist["edges"][0] == 0 and hist["edges"][-1] > 42
    assert run("length", {"train": train}, tokenizer=tok, max_length=64).ok


def test_unknown_tokens_chinese_on_an_english_vocabulary_is_an_error(tok):
    train = [ex("这部电影非常好看"), ex("剧情很无聊")] * 3
    f = run("unknown_tokens", {"train": train}, tokenizer=tok)
    assert not f.ok and f.severity == "error"
    assert f.details["train"]["unknown_share"] > 0.9
    assert "language" in f.message


def test_unknown_tokens_warning_band_and_ok(tok):
    english = [ex("the film was really good and the cast was great") for _ in range(20)]
    assert run("unknown_tokens", {"train": english}, tokenizer=tok).ok
    some = english + [ex("好 看")] * 2  # 4 [UNK] in 204 tokens: about 2%
    f = run("unknown_tokens", {"train": some}, tokenizer=tok)
    assert not f.ok and f.severity == "warning"
