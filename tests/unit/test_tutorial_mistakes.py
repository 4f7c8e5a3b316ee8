"""The mistakes of a well-known fine-tuning tutorial, each a fixture tunewise must catch.

The tutorial (a "fine-tune BERT for sentiment in 10 minutes" notebook) builds dev and test from
the training file, divides summed batch accuracies by the number of batches, pads every example
to 512, feeds a CoNLL token file as if it were sentences, and claims "91.9%" from one seed.
"""

import json

import numpy as np
import pytest

import tunewise
from tests.conftest import make_rows, tiny_config, write_jsonl
from tunewise.errors import UserError


def test_dev_and_test_built_from_the_training_file(tiny_model_dir, tmp_path):
    rows = make_rows(160, 1)
    train = write_jsonl(tmp_path / "train.jsonl", rows)
    dev = write_jsonl(tmp_path / "dev.jsonl", rows[:40])  # drawn from train
    cfg = tiny_config(tiny_model_dir, {"train": train, "dev": dev, "test": dev}, tmp_path / "r")
    with pytest.raises(UserError, match="same_splits"):
        tunewise.train(cfg)


def test_accuracy_is_over_rows_not_batches(tiny_model_dir, tiny_data, tmp_path):
    # 40 test rows in batches of 32 and 8: a batch mean would weight the 8 like the 32.
    r = tunewise.train(tiny_config(tiny_model_dir, tiny_data, tmp_path / "r", epochs=1))
    preds = [
        json.loads(line)
        for line in (r.path / "predictions" / "test.jsonl").read_text().splitlines()
    ]
    assert r.metrics["test"]["n"] == len(preds) == 40
    assert r.metrics["test"]["accuracy"] == pytest.approx(
        np.mean([p["gold"] == p["pred"] for p in preds])
    )


def test_never_padded_to_512(tiny_model_dir, tiny_data, tmp_path):
    r = tunewise.train(
        tiny_config(tiny_model_dir, tiny_data, tmp_path / "r", epochs=1)
        | {"model": {"name": str(tiny_model_dir), "max_length": 512}}
    )
    t = r.metrics["training"]
    assert t["real_token_share"] > 0.8  # padded to 512 these ~11-token rows would be ~2% real
    assert r.metrics["checks"]["padding"]["ok"]
    from tunewise.evaluation.checks import padding

    assert not padding(11 / 512)["ok"]


def test_token_level_ner_file_fed_as_classification(tiny_model_dir, tmp_path):
    tokens = "EU rejects German call to boycott British lamb . Peter Blackburn".split()
    tags = ["B-ORG", "O", "B-MISC", "O", "O", "O", "B-MISC", "O", "O", "B-PER", "I-PER"]
    rows = [{"text": w, "label": t} for w, t in zip(tokens * 10, tags * 10)]
    cfg = tiny_config(
        tiny_model_dir, {"train": write_jsonl(tmp_path / "ner.jsonl", rows)}, tmp_path / "r"
    )
    with pytest.raises(UserError, match="token_tags"):
        tunewise.train(cfg)


def test_single_seed_claim_is_labeled(tiny_model_dir, tiny_data, tmp_path):
    r = tunewise.train(tiny_config(tiny_model_dir, tiny_data, tmp_path / "r", epochs=1))
    assert r.metrics["seeds"]["single_seed"] is True
    assert "spread across seeds is unknown" in r.metrics["seeds"]["note"]
    assert "ci" in r.metrics["test"]  # a number never comes without its interval
