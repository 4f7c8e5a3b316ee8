"""[harden] secrets passed on the command line or in the config never land in the run dir."""

from __future__ import annotations

import sys

import yaml

from tunewise.redact import redact_argv, redact_config, redact_text
from tunewise.rundir import RunDir


def test_redact_text_and_argv():
    assert redact_text("https://bob:hunter2@mlflow.example/x") == "https://bob:***@mlflow.example/x"
    assert redact_text("http://h/x?token=abc&run=1") == "http://h/x?token=***&run=1"
    argv = [
        "tunewise",
        "train",
        "--token",
        "abc",
        "--api-key=xyz",
        "track.password=p",
        "--api-key-env",
        "MY_KEY",
        "track.mlflow_uri=https://u:pw@h",
        "--epochs",
        "3",
    ]
    assert redact_argv(argv) == [
        "tunewise",
        "train",
        "--token",
        "***",
        "--api-key=***",
        "track.password=***",
        "--api-key-env",
        "MY_KEY",
        "track.mlflow_uri=https://u:***@h",
        "--epochs",
        "3",
    ]


def test_redact_config_tree():
    cfg = {
        "track": {"mlflow_uri": "https://u:pw@h", "api_key": "k", "key_env": "X"},
        "train": {"lr": 0.1, "epochs": 3},
    }
    assert redact_config(cfg) == {
        "track": {"mlflow_uri": "https://u:***@h", "api_key": "***", "key_env": "X"},
        "train": {"lr": 0.1, "epochs": 3},
    }


def test_run_json_and_config_yaml_hold_no_secret(tmp_path, monkeypatch):
    monkeypatch.setattr(
        sys, "argv", ["tunewise", "train", "track.mlflow_uri=https://alice:s3cr3t@mlflow/x"]
    )
    run = RunDir(tmp_path / "run")
    run.start({"track": {"mlflow_uri": "https://alice:s3cr3t@mlflow/x"}}, resume=False)
    assert "s3cr3t" not in run.run_file.read_text()
    assert "s3cr3t" not in run.config.read_text()
    assert yaml.safe_load(run.config.read_text())["track"]["mlflow_uri"] == (
        "https://alice:***@mlflow/x"
    )


def test_names_that_merely_contain_a_secret_word_are_kept():
    cfg = {"data": {"token_format": "conll"}, "sft": {"max_new_tokens": 64}, "tokenizer": "x"}
    assert redact_config(cfg) == cfg
    argv = ["--token-format", "conll", "data.token_format=chars", "--max-new-tokens", "5"]
    assert redact_argv(argv) == argv
