"""Resumable checkpoints, written atomically.

A checkpoint is a directory ``checkpoints/step-00000120`` holding the model weights, the
optimizer and scheduler states, the RNG states and the loop state. It is written under a
temporary name and renamed into place only when every file is on disk, with a ``COMPLETE``
marker written last; a kill at any moment leaves either the old checkpoint or the new one,
never one that loads wrong.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_model, save_model

MARKER = "COMPLETE"
METHOD_FILE = "method.pt"


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def rng_state() -> dict:
    return {
        "torch": torch.get_rng_state(),
        "python": random.getstate(),
        "numpy": np.random.get_state(),
    }


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])


def save_checkpoint(
    root: Path,
    step: int,
    model,
    optimizer,
    scheduler,
    loop_state: dict,
    keep: int = 1,
    method_state: dict | None = None,
) -> Path:
    """Write a checkpoint for ``step`` atomically and prune older ones (keeping ``keep``).

    ``method_state``: what the fine-tuning method keeps outside the weights (AdaLoRA's rank
    allocator), restored by ``load_checkpoint(..., load_method_state=...)``."""
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{step:08d}"
    tmp = root / f".tmp-step-{step:08d}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    save_model(model, str(tmp / "model.safetensors"))
    torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
    torch.save(rng_state(), tmp / "rng.pt")
    if method_state is not None:
        torch.save(method_state, tmp / METHOD_FILE)
    (tmp / "state.json").write_text(json.dumps(loop_state, indent=1))
    for f in tmp.iterdir():
        _fsync(f)
    (tmp / MARKER).write_text(str(step))
    _fsync(tmp / MARKER)
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    _fsync(root)
    done = sorted(p for p in root.glob("step-*") if (p / MARKER).is_file())
    for old in done[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    for stale in root.glob(".tmp-step-*"):
        if stale != tmp:
            shutil.rmtree(stale, ignore_errors=True)
    return final


def latest_checkpoint(root: Path) -> Path | None:
    """The newest complete checkpoint under ``root`` (temporary and unmarked ones ignored)."""
    if not root.is_dir():
        return None
    done = sorted(p for p in root.glob("step-*") if (p / MARKER).is_file())
    return done[-1] if done else None


def load_checkpoint(path: Path, model, optimizer, scheduler, load_method_state=None) -> dict:
    """Restore model, optimizer, scheduler and RNG from ``path``; return the loop state.

    ``load_method_state`` is called with the method's saved state; a checkpoint that lacks one
    for a method that keeps state cannot continue that method exactly and is refused."""
    load_model(model, str(path / "model.safetensors"))
    if load_method_state is not None:
        if not (path / METHOD_FILE).is_file():
            from tunewise.errors import UserError

            raise UserError(
                f"{path}: this checkpoint has no {METHOD_FILE}, the fine-tuning method's state; "
                "it was written by another method or an older tunewise and cannot be resumed exactly"
            )
        load_method_state(torch.load(path / METHOD_FILE, weights_only=False))
    optimizer.load_state_dict(torch.load(path / "optimizer.pt", weights_only=False))
    scheduler.load_state_dict(torch.load(path / "scheduler.pt", weights_only=False))
    set_rng_state(torch.load(path / "rng.pt", weights_only=False))
    return json.loads((path / "state.json").read_text())
