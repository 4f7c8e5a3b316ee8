"""Point 2: each strategy does what it says (memory, Fisher, adapters and router, joint data)."""

from __future__ import annotations

import json
from collections import Counter

import pytest
import torch

from tunewise.continual import ewc
from tunewise.continual.memory import balanced_sample, budget, load_memory, parse_size
from tunewise.rundir import RunDir


def _stage(run):
    return json.loads((run / "continual" / "stage.json").read_text())


def _final_a(run, key="accuracy"):
    return _stage(run)["row"][0][key]


def test_replay_size_rows_or_share():
    assert parse_size("2%") == ("share", 0.02) and parse_size("200") == ("rows", 200.0)
    assert parse_size(None) == ("share", 0.2)  # default 20%
    assert budget("2%", 4000) == 80 and budget("200", 4000) == 200 and budget("200", 50) == 50


def test_balanced_sample_is_class_balanced_and_seeded():
    rows = [("a", i) for i in range(90)] + [("b", i) for i in range(10)]
    s = balanced_sample(rows, 20, seed=1, label=lambda r: r[0])
    assert Counter(r[0] for r in s) == {"a": 10, "b": 10}
    assert s == balanced_sample(rows, 20, seed=1, label=lambda r: r[0])
    assert s != balanced_sample(rows, 20, seed=2, label=lambda r: r[0])
    s = balanced_sample(rows, 30, seed=1, label=lambda r: r[0])  # b runs out: a fills up
    assert Counter(r[0] for r in s) == {"a": 20, "b": 10}


def test_replay_memory_saved_with_the_run(continued):
    run = continued["replay"]
    data = json.loads(RunDir(run).data.read_text())
    # 25% of the 160 earlier training rows, class-balanced over the earlier task's labels
    assert data["continual"]["replayed_rows"] == 40
    assert data["rows"]["train"] == 160 + 4 * 40  # repeated to half the rows (replay_mix 0.5)
    mem = load_memory(run / "continual" / "memory.jsonl")
    assert len(mem) == round(0.25 * (160 + 160)) == _stage(run)["memory_rows"]
    counts = Counter(r.label for r in mem)
    assert set(counts) == {"neg", "pos", "people", "plot"}
    assert max(counts.values()) - min(counts.values()) <= 1


def test_replay_forgets_less_than_naive(continued):
    """Task A's labels are absent from B: naive continuation stops predicting them at all."""
    naive, replay = _final_a(continued["naive"]), _final_a(continued["replay"])
    assert naive < 0.2
    assert replay > naive + 0.3


def test_ewc_penalty_is_zero_at_the_anchor_and_grows_away():
    lin = torch.nn.Linear(3, 2)
    anchor = {n: p.detach().clone() for n, p in lin.named_parameters()}
    fisher = {n: torch.ones_like(p) for n, p in lin.named_parameters()}
    term = ewc.penalty(lin, fisher, anchor, lam=2.0)
    assert float(term().detach()) == 0.0
    with torch.no_grad():
        lin.weight += 0.5
    assert float(term().detach()) == pytest.approx(0.5 * 2.0 * 6 * 0.25)
    fisher["weight"][0] = 0  # an unimportant weight moves freely
    assert float(ewc.penalty(lin, fisher, anchor, 2.0)().detach()) == pytest.approx(
        0.5 * 2.0 * 3 * 0.25
    )


def test_ewc_penalty_leaves_new_head_rows_free():
    head = torch.nn.Linear(4, 3)
    anchor = {"weight": head.weight.detach()[:2].clone(), "bias": head.bias.detach()[:2].clone()}
    fisher = {k: torch.ones_like(v) for k, v in anchor.items()}
    term = ewc.penalty(head, fisher, anchor, 1.0)
    with torch.no_grad():
        head.weight[2] += 10.0
    assert float(term().detach()) == 0.0


def test_ewc_fisher_saved_and_holds_weights_nearer_the_parent(continued, root_run):
    from safetensors.torch import load_file

    run = continued["ewc"]
    fisher = ewc.load_fisher(run / "continual" / "fisher.safetensors")
    assert fisher and all(float(v.min()) >= 0 for v in fisher.values())
    total = sum(float(v.sum()) for v in fisher.values())
    assert total / sum(v.numel() for v in fisher.values()) == pytest.approx(1.0, rel=1e-2)

    parent = load_file(str(RunDir(root_run).model / "model.safetensors"))

    def drift(r):
        child = load_file(str(RunDir(r).model / "model.safetensors"))
        return sum(
            float((fisher[k].float() * (child[k] - parent[k]) ** 2).sum())
            for k in fisher
            if k in child and child[k].shape == parent[k].shape
        )

    assert drift(continued["ewc"]) < drift(continued["naive"])


def test_lora_per_task_keeps_earlier_tasks_exactly_and_reports_its_router(continued, root_run):
    run = continued["lora-per-task"]
    stage = _stage(run)
    assert [e["task"] for e in stage["experts"]] == ["a", "b"]
    assert stage["experts"][0]["run"] == str(root_run.resolve())
    # task given: the earlier task's own model answers -> exactly the parent's accuracy
    parent_a = stage["parent_row"][0]
    assert stage["row"][0]["correct_task_given"] == parent_a["correct"]
    meta = json.loads((RunDir(run).model / "tunewise.json").read_text())
    assert meta["method"]["name"] == "lora" and meta["labels"] == ["people", "plot"]
    m = json.loads(RunDir(run).metrics.read_text())
    router = m["continual"]["router"]
    assert 0.0 <= router["accuracy"] <= 1.0 and set(router["per_test"]) == {"a", "b"}
    # tasks A and B use disjoint words: the router tells them apart
    assert router["accuracy"] > 0.9
    assert (run / "continual" / "router.json").is_file()


def test_joint_trains_on_every_earlier_row(continued):
    data = json.loads(RunDir(continued["joint"]).data.read_text())
    assert data["continual"]["earlier_rows"] == 160
    assert data["rows"]["train"] == 320
    assert _final_a(continued["joint"]) > _final_a(continued["naive"]) + 0.3
