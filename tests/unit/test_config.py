import pytest

from tunewise.config import build_config, load_yaml, parse_override
from tunewise.errors import UserError


def test_defaults_and_overrides_apply_in_order(tmp_path):
    y = tmp_path / "rt.yaml"
    y.write_text("model:\n  name: minilm\ntrain:\n  lr: 1.0e-4\n  epochs: 2\n")
    cfg = build_config(load_yaml(y), {"train.epochs": 5, "train.seed": None}, ["train.lr=3e-5"])
    assert cfg.train.lr == 3e-5  # override beats YAML
    assert cfg.train.epochs == 5  # flag beats YAML
    assert cfg.train.seed == 42  # None flags are ignored, default kept
    assert cfg.model.name == "minilm"


def test_override_values_are_typed():
    assert parse_override("train.bf16=false") == (["train", "bf16"], False)
    assert parse_override("train.batch_size=16") == (["train", "batch_size"], 16)
    assert parse_override("model.name=minilm") == (["model", "name"], "minilm")


def test_all_errors_reported_at_once():
    with pytest.raises(UserError) as e:
        build_config({}, None, ["train.lr=-1", "train.batch_size=0", "train.colour=red"])
    msg = str(e.value)
    assert (
        "train.lr" in msg and "train.batch_size" in msg and "train.colour: unknown setting" in msg
    )


def test_contradiction_rejected_when_built():
    with pytest.raises(UserError, match="split.dev \\+ split.test"):
        build_config({"data": {"split": {"dev": 0.5, "test": 0.45}}})


def test_bad_override_and_bad_yaml(tmp_path):
    with pytest.raises(UserError, match="expected KEY=VALUE"):
        build_config({}, None, ["train.lr"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [1, 2\n")
    with pytest.raises(UserError, match="bad.yaml line .*not valid YAML"):
        load_yaml(bad)
    with pytest.raises(UserError, match="config file not found"):
        load_yaml(tmp_path / "nope.yaml")


def _resolved(tree: dict):
    """A config as a run resolves it: the task's defaults applied (what config.yaml saves)."""
    from tunewise.run.runner import resolve_config

    cfg = build_config(tree)
    resolve_config(cfg)
    return cfg


def test_token_runs_default_to_batch_16_unless_set():
    assert _resolved({"task": {"type": "tokens"}}).train.batch_size == 16
    assert (
        _resolved({"task": {"type": "tokens"}, "train": {"batch_size": 32}}).train.batch_size == 32
    )
    assert _resolved({}).train.batch_size == 32
