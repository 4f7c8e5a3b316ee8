"""Checkpoint and resume: a run killed mid-epoch and resumed ends where an uninterrupted run does."""

import numpy as np
import pytest
import yaml
from safetensors.numpy import load_file

import tunewise
from tests.conftest import kill_after_checkpoint, make_rows, tiny_config, write_jsonl
from tunewise.rundir import RunDir
from tunewise.training.checkpoint import MARKER, latest_checkpoint


def test_killed_run_resumes_to_identical_weights(tiny_model_dir, tmp_path):
    data = {
        "train": write_jsonl(tmp_path / "train.jsonl", make_rows(160, 1)),
        "dev": write_jsonl(tmp_path / "dev.jsonl", make_rows(40, 2)),
        "test": write_jsonl(tmp_path / "test.jsonl", make_rows(40, 3)),
    }
    # 10 batches per epoch; checkpoints every 3 steps fall mid-epoch.
    settings = dict(epochs=40, checkpoint_every=3)
    cfg = tiny_config(tiny_model_dir, data, tmp_path / "killed", **settings)
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    kill_after_checkpoint(tmp_path / "cfg.yaml", tmp_path / "killed" / "checkpoints", 40)
    run = RunDir(tmp_path / "killed")
    assert run.status() == "interrupted"  # a dead writer never reads as running or completed
    with pytest.raises(tunewise.UserError, match="did not finish"):
        tunewise.load(run.path)
    killed_at = int(latest_checkpoint(tmp_path / "killed" / "checkpoints").name.split("-")[1])
    assert killed_at < 400

    resumed = tunewise.train(resume=run.path)
    straight = tunewise.train(tiny_config(tiny_model_dir, data, tmp_path / "straight", **settings))
    wa = load_file(str(resumed.path / "model" / "model.safetensors"))
    wb = load_file(str(straight.path / "model" / "model.safetensors"))
    for k in wa:
        np.testing.assert_allclose(wa[k], wb[k], rtol=0, atol=1e-6)
    assert resumed.metrics["test"]["accuracy"] == straight.metrics["test"]["accuracy"]
    assert resumed.metrics["best_step"] == straight.metrics["best_step"]
    assert RunDir(resumed.path).info()["resumed"] == 1


def test_incomplete_checkpoints_are_never_loaded(tmp_path):
    root = tmp_path / "checkpoints"
    good = root / "step-00000010"
    good.mkdir(parents=True)
    (good / MARKER).write_text("10")
    (root / "step-00000020").mkdir()  # no marker: a save that never finished
    (root / ".tmp-step-00000030-123").mkdir()
    assert latest_checkpoint(root) == good


def test_save_checkpoint_is_atomic_and_prunes(tmp_path):
    import torch

    from tunewise.training.checkpoint import load_checkpoint, save_checkpoint

    model = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(model.parameters())
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    for step in (1, 2):
        save_checkpoint(tmp_path, step, model, opt, sched, {"step": step})
    assert [p.name for p in tmp_path.iterdir()] == ["step-00000002"]
    before = model.weight.detach().clone()
    with torch.no_grad():
        model.weight.add_(1.0)
    state = load_checkpoint(tmp_path / "step-00000002", model, opt, sched)
    assert state == {"step": 2}
    assert torch.equal(model.weight, before)


def test_a_checkpoint_without_the_methods_state_is_refused(tmp_path):
    """A method that keeps state outside the weights (AdaLoRA) cannot continue exactly from a
    checkpoint that lacks it: one clear error, not a silently different run."""
    import torch

    from tunewise.training.checkpoint import METHOD_FILE, load_checkpoint, save_checkpoint

    model = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(model.parameters())
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    save_checkpoint(tmp_path, 1, model, opt, sched, {"step": 1})
    with pytest.raises(tunewise.UserError, match=f"no {METHOD_FILE}"):
        load_checkpoint(tmp_path / "step-00000001", model, opt, sched, lambda state: None)
    got = {}
    save_checkpoint(tmp_path, 2, model, opt, sched, {"step": 2}, method_state={"ipt": {"a": 1}})
    load_checkpoint(tmp_path / "step-00000002", model, opt, sched, got.update)
    assert got == {"ipt": {"a": 1}}
