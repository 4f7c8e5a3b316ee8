"""A third stage: the replay memory travels along the lineage, the matrix grows to 3 x 3, and
lora-per-task can follow a stage of another strategy."""

from __future__ import annotations

import json

from tunewise.continual import forgetting
from tunewise.continual.memory import load_memory
from tunewise.rundir import RunDir


def test_replay_after_replay_replays_the_parents_memory(third, continued):
    data = json.loads(RunDir(third["replay"]).data.read_text())
    parent_memory = load_memory(continued["replay"] / "continual" / "memory.jsonl")
    # 25% of the 320 earlier rows = the parent's whole 80-row memory (tasks A and B)
    assert data["continual"]["replayed_rows"] == len(parent_memory) == 80
    mem = load_memory(third["replay"] / "continual" / "memory.jsonl")
    assert {r.label for r in mem} == {"neg", "pos", "people", "plot", "mild", "strong"}
    assert len(mem) == round(0.25 * 480)


def test_three_by_three_matrix(third):
    f = forgetting(third["replay"], n_boot=50)
    assert f["tests"] == ["a", "b", "c"]
    m = f["matrix"]
    assert [len(r) for r in m] == [3, 3, 3]
    assert m[0][2] is None and m[0][1] is not None and m[1][2] is not None
    assert all(v is not None for v in m[2])
    assert [s["strategy"] for s in f["stages"]] == [None, "replay", "replay"]


def test_lora_per_task_after_naive(third, continued):
    stage = json.loads((third["lora-per-task"] / "continual" / "stage.json").read_text())
    naive = str(continued["naive"].resolve())
    assert [e["run"] for e in stage["experts"][:2]] == [naive, naive]
    assert set(stage["router"]["per_test"]) == {"a", "b", "c"}
    # task given, earlier tasks are answered by the untouched naive model: identical cells
    naive_row = json.loads((continued["naive"] / "continual" / "stage.json").read_text())["row"]
    assert stage["row"][1]["correct_task_given"] == naive_row[1]["correct_task_given"]


def test_lora_per_task_after_lora_per_task(third, continued):
    """A routed parent: its experts stay, the new task's adapter is added, and the parent is
    scored on the new test set before this stage (it knows none of C's labels: 0)."""
    stage = json.loads((third["lora-after-lora"] / "continual" / "stage.json").read_text())
    parent = json.loads((continued["lora-per-task"] / "continual" / "stage.json").read_text())
    assert [e["run"] for e in stage["experts"][:2]] == [e["run"] for e in parent["experts"]]
    assert len(stage["experts"]) == 3 and len(stage["row"]) == 3
    assert stage["before"]["task"] == "c" and stage["before"]["accuracy"] == 0.0
    # task given, the earlier tasks' answers are the parent's, cell for cell
    for j in (0, 1):
        assert stage["row"][j]["correct_task_given"] == parent["row"][j]["correct_task_given"]
