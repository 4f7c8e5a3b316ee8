"""[harden] checkpoints: loading runs no code, re-saving a step is atomic, leftovers recover."""

from __future__ import annotations

import os
import pickle
import random

import numpy as np
import pytest
import torch

from tunewise.errors import UserError
from tunewise.training import checkpoint as ck


def _parts():
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=0.1)
    model(torch.randn(3, 4)).sum().backward()
    opt.step()
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    return model, opt, sched


class _Evil:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


def test_a_crafted_pickle_in_a_checkpoint_runs_no_code(tmp_path):
    model, opt, sched = _parts()
    path = ck.save_checkpoint(tmp_path / "c", 1, model, opt, sched, {"step": 1})
    pwned = tmp_path / "pwned"
    with open(path / "optimizer.pt", "wb") as f:
        pickle.dump({"state": _Evil(pwned)}, f)
    with pytest.raises(UserError, match="optimizer.pt: not a checkpoint file tunewise can load"):
        ck.load_checkpoint(path, *_parts())
    assert not pwned.exists()


def test_rng_states_round_trip_through_a_safe_checkpoint(tmp_path):
    model, opt, sched = _parts()
    random.seed(3)
    np.random.seed(3)
    torch.manual_seed(3)
    path = ck.save_checkpoint(tmp_path / "c", 2, model, opt, sched, {"step": 2})
    want = (random.random(), np.random.rand(), torch.rand(1).item())
    random.seed(9)
    np.random.seed(9)
    torch.manual_seed(9)
    assert ck.load_checkpoint(path, *_parts()) == {"step": 2}
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == want


def test_a_kill_while_the_same_step_is_resaved_leaves_a_resumable_run(tmp_path, monkeypatch):
    root = tmp_path / "c"
    model, opt, sched = _parts()
    ck.save_checkpoint(root, 5, model, opt, sched, {"step": 5, "v": "old"})
    real = os.replace
    calls = []

    def killed(src, dst):
        calls.append((src, dst))
        if str(src).endswith(f"-{os.getpid()}") and ".tmp-step-" in str(src):
            raise KeyboardInterrupt  # killed after the old copy moved aside
        return real(src, dst)

    monkeypatch.setattr(ck.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        ck.save_checkpoint(root, 5, model, opt, sched, {"step": 5, "v": "new"})
    monkeypatch.setattr(ck.os, "replace", real)
    assert not (root / "step-00000005").exists()  # moved aside, never deleted in place
    ck.recover(root)
    latest = ck.latest_checkpoint(root)
    assert latest == root / "step-00000005"
    state = ck.load_checkpoint(latest, *_parts())
    assert state["v"] in ("old", "new")  # a complete copy, whichever survived
    assert sorted(p.name for p in root.iterdir()) == ["step-00000005"]


def test_a_complete_temp_copy_is_recovered_and_a_half_one_dropped(tmp_path):
    root = tmp_path / "c"
    model, opt, sched = _parts()
    done = ck.save_checkpoint(root, 7, model, opt, sched, {"step": 7})
    os.replace(done, root / ".tmp-step-00000007-123")  # complete, under its temporary name
    (root / ".tmp-step-00000009-123").mkdir()  # half written: no marker
    assert ck.latest_checkpoint(root) is None  # reading never moves a writer's files
    ck.recover(root)
    assert ck.latest_checkpoint(root) == root / "step-00000007"
    assert sorted(p.name for p in root.iterdir()) == ["step-00000007"]
