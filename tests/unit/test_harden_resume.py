"""[harden] resume: bf16 auto decided once (saved, no RNG draw), the first loss logged after a
resume averages the same batches as an uninterrupted run's."""

from __future__ import annotations

import json

import pytest
import torch

import tunewise
from tests.conftest import tiny_config
from tunewise.training import loop


def test_bf16_probe_leaves_the_global_rng_alone():
    torch.manual_seed(5)
    before = torch.get_rng_state()
    loop.bf16_is_fast(torch.device("cpu"))
    assert torch.equal(before, torch.get_rng_state())


class _Stop(Exception):
    pass


def _losses(run_path):
    recs = [json.loads(x) for x in (run_path / "train_log.jsonl").read_text().splitlines()]
    return {r["step"]: r["loss"] for r in recs if r["type"] == "train"}


def test_resume_keeps_the_saved_bf16_choice_and_logs_exact_losses(
    tiny_model_dir, tiny_data, tmp_path, monkeypatch
):
    train = {"epochs": 2, "bf16": "auto", "eval_every": 1000, "checkpoint_every": 5}
    choice = iter([False, True])  # a second probe (the bug) would flip the choice to True
    monkeypatch.setattr(loop, "bf16_is_fast", lambda device: next(choice))
    straight = tunewise.train(tiny_config(tiny_model_dir, tiny_data, tmp_path / "a", **train))

    choice = iter([False, True])
    cfg = tiny_config(tiny_model_dir, tiny_data, tmp_path / "b", **train)

    def stop(rec):
        if rec.get("type") == "train" and rec["step"] == 20:
            raise _Stop

    # stop mid-way: the log at step 20 is the first after the checkpoint at step 15
    with pytest.raises(_Stop):
        tunewise.train(cfg, on_log=stop)
    log = tmp_path / "b" / "train_log.jsonl"
    kept = [x for x in log.read_text().splitlines() if json.loads(x)["step"] <= 15]
    log.write_text("".join(x + "\n" for x in kept))  # as if killed right after step 15
    resumed = tunewise.train(resume=tmp_path / "b")
    assert resumed.metrics["training"]["bf16"] is False  # the saved choice, not a new probe
    a, b = _losses(straight.path), _losses(resumed.path)
    assert b[20] == pytest.approx(a[20], rel=1e-5)
    assert b == pytest.approx(a, rel=1e-5)
