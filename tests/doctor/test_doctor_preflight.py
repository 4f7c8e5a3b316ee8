"""The doctor before training: errors stop `tunewise.train`, allowances are recorded."""

import json

import pytest

import tunewise
from tests.conftest import make_rows, tiny_config, write_jsonl
from tunewise.errors import UserError


@pytest.fixture
def leaky(tmp_path):
    train = write_jsonl(tmp_path / "train.jsonl", make_rows(64, 1))
    test = write_jsonl(tmp_path / "test.jsonl", make_rows(20, 3))
    return {"train": train, "dev": train, "test": test}


def test_dev_identical_to_train_stops_training(tmp_path, tiny_model_dir, leaky):
    cfg = tiny_config(tiny_model_dir, leaky, tmp_path / "run", epochs=1)
    with pytest.raises(UserError, match="same_splits") as e:
        tunewise.train(cfg)
    assert "--allow same_splits" in str(e.value) and "\n" not in str(e.value)
    report = json.loads((tmp_path / "run" / "doctor.json").read_text())
    assert report["errors"] == ["same_splits"]
    assert not (tmp_path / "run" / "model").exists()


def test_allowed_error_trains_and_is_recorded(tmp_path, tiny_model_dir, leaky):
    cfg = tiny_config(tiny_model_dir, leaky, tmp_path / "run", epochs=1, max_steps=2)
    cfg["doctor"] = {"allow": ["same_splits"]}
    result = tunewise.train(cfg)
    report = json.loads((result.path / "doctor.json").read_text())
    assert report["allowed"] == ["same_splits"] and report["allowed_errors"] == ["same_splits"]
    assert report["errors"] == []
