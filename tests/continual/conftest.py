"""Two tiny tasks for continual learning on the tiny BERT: A (sentiment words -> pos/neg) and
B (which of two filler words a sentence holds -> plot/people: labels A does not have)."""

from __future__ import annotations

import random

import pytest

from tests.conftest import FILL, make_rows, tiny_config, write_jsonl


def make_b(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    others = [w for w in FILL if w not in ("story", "cast")]
    rows = []
    for _ in range(n):
        y = rng.random() < 0.5
        words = [rng.choice(others) for _ in range(rng.randint(2, 10))]
        words.insert(rng.randrange(len(words) + 1), "story" if y else "cast")
        rows.append({"text": " ".join(words), "label": "plot" if y else "people"})
    return rows


def stage_config(model_dir, files: dict, out, **train) -> dict:
    cfg = tiny_config(model_dir, files, out, **({"epochs": 10} | train))
    cfg["task"] = {"label_issues": False}
    return cfg


@pytest.fixture(scope="session")
def two_tasks(tmp_path_factory):
    d = tmp_path_factory.mktemp("cl-data")
    return {
        "a": {
            "train": write_jsonl(d / "a_train.jsonl", make_rows(160, 1)),
            "dev": write_jsonl(d / "a_dev.jsonl", make_rows(40, 2)),
            "test": write_jsonl(d / "a_test.jsonl", make_rows(60, 3)),
        },
        "b": {
            "train": write_jsonl(d / "b_train.jsonl", make_b(160, 4)),
            "dev": write_jsonl(d / "b_dev.jsonl", make_b(40, 5)),
            "test": write_jsonl(d / "b_test.jsonl", make_b(60, 6)),
        },
    }


@pytest.fixture(scope="session")
def root_run(tiny_model_dir, two_tasks, tmp_path_factory):
    import tunewise

    out = tmp_path_factory.mktemp("cl-root") / "v1"
    tunewise.train(stage_config(tiny_model_dir, two_tasks["a"], out))
    return out


@pytest.fixture(scope="session")
def continued(tiny_model_dir, two_tasks, root_run, tmp_path_factory):
    """The root continued on task B with each strategy: {strategy: run path}."""
    from tunewise.config import build_config
    from tunewise.continual import continue_train

    base = tmp_path_factory.mktemp("cl-stages")
    runs = {}
    for s in ("naive", "replay", "ewc", "lora-per-task", "joint"):
        cfg = build_config(stage_config(tiny_model_dir, two_tasks["b"], base / s))
        runs[s] = continue_train(cfg, root_run, s, replay="25%" if s == "replay" else None).path
    return runs
