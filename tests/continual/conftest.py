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


def make_c(n: int, seed: int) -> list[dict]:
    """Task C: "very" or "quite" -> strong/mild (labels neither A nor B has)."""
    rng = random.Random(seed)
    others = [w for w in FILL if w not in ("very", "quite", "story", "cast")]
    rows = []
    for _ in range(n):
        y = rng.random() < 0.5
        words = [rng.choice(others) for _ in range(rng.randint(2, 10))]
        words.insert(rng.randrange(len(words) + 1), "very" if y else "quite")
        rows.append({"text": " ".join(words), "label": "strong" if y else "mild"})
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
        "c": {
            "train": write_jsonl(d / "c_train.jsonl", make_c(160, 7)),
            "dev": write_jsonl(d / "c_dev.jsonl", make_c(40, 8)),
            "test": write_jsonl(d / "c_test.jsonl", make_c(60, 9)),
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


@pytest.fixture(scope="session")
def third(tiny_model_dir, two_tasks, continued, tmp_path_factory):
    """Stage 3 (task C): replay after replay (the parent's memory is replayed),
    lora-per-task after a naive stage (the naive model answers for both earlier tasks), and
    lora-per-task after lora-per-task (a routed parent)."""
    from tunewise.config import build_config
    from tunewise.continual import continue_train

    base = tmp_path_factory.mktemp("cl-third")
    runs = {}
    for key, s, parent in (
        ("replay", "replay", continued["replay"]),
        ("lora-per-task", "lora-per-task", continued["naive"]),
        ("lora-after-lora", "lora-per-task", continued["lora-per-task"]),
    ):
        cfg = build_config(stage_config(tiny_model_dir, two_tasks["c"], base / key))
        runs[key] = continue_train(cfg, parent, s, replay="25%" if s == "replay" else None).path
    return runs
