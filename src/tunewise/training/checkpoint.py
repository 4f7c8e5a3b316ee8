"""Resumable checkpoints, written atomically.

A checkpoint is a directory ``checkpoints/step-00000120`` holding the model weights, the
optimizer and scheduler states, the RNG states and the loop state. It is written under a
temporary name and renamed into place only when every file is on disk, with a ``COMPLETE``
marker written last; a checkpoint re-saved for the same step is moved aside (renamed, not
deleted) until the new one is in place. A kill at any moment leaves either the old checkpoint
or the new one, never one that loads wrong, and :func:`latest_checkpoint` recovers a complete
copy left under a temporary or moved-aside name.

Loading never runs code from the files: tensors and plain containers only
(``torch.load(weights_only=True)``; the RNG states are saved as tensors and lists), so a run
directory from someone else cannot execute anything on ``--resume``.
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
    """The RNG states as tensors, lists and numbers (loadable with ``weights_only=True``)."""
    version, internal, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "python": [version, list(internal), gauss],
        "numpy": [kind, torch.from_numpy(np.asarray(keys, dtype=np.int64)), pos, has_gauss, cached],
    }


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))


def safe_load(path: Path):
    """``torch.load`` of tensors and plain containers only: a pickle that would run code
    (a crafted ``optimizer.pt``) is refused with a UserError naming the file."""
    import pickle

    from tunewise.errors import UserError

    try:
        return torch.load(path, weights_only=True, map_location="cpu")
    except (pickle.UnpicklingError, RuntimeError, AttributeError, TypeError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(
            f"{path}: not a checkpoint file tunewise can load safely (it holds more than "
            f"tensors and plain values: {first[:160]}); it was not loaded. Resume only runs "
            "you trust, and start this one again without --resume"
        ) from None


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
    aside = root / f".old-step-{step:08d}-{os.getpid()}"
    if final.exists():
        # the same step saved again: move the old copy aside (a rename), never delete it in
        # place, so a kill here leaves a complete checkpoint under one name or the other
        os.replace(final, aside)
        _fsync(root)
    os.replace(tmp, final)
    _fsync(root)
    done = sorted(p for p in root.glob("step-*") if (p / MARKER).is_file())
    for old in done[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    for stale in [*root.glob(".tmp-step-*"), *root.glob(".old-step-*")]:
        shutil.rmtree(stale, ignore_errors=True)
    return final


def _step_of(path: Path) -> int:
    return int(path.name.split("step-")[1].split("-")[0])


def recover(root: Path) -> None:
    """Put back a complete checkpoint a kill left under a temporary or moved-aside name (when
    its step has no complete checkpoint), and remove incomplete leftovers. Only for a run no
    process is writing (on ``--resume``, before the checkpoint is chosen)."""
    if not root.is_dir():
        return
    for leftover in sorted([*root.glob(".tmp-step-*"), *root.glob(".old-step-*")]):
        final = root / f"step-{_step_of(leftover):08d}"
        try:
            if (leftover / MARKER).is_file() and not (final / MARKER).is_file():
                if final.exists():
                    shutil.rmtree(final)  # half a copy without its marker: never loaded
                os.replace(leftover, final)
            else:
                shutil.rmtree(leftover, ignore_errors=True)
        except OSError:  # another process of the same run recovered it first
            continue


def latest_checkpoint(root: Path) -> Path | None:
    """The newest complete checkpoint under ``root`` (temporary and unmarked ones ignored;
    call :func:`recover` first when resuming, never while a writer may be saving)."""
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
        load_method_state(safe_load(path / METHOD_FILE))
    optimizer.load_state_dict(safe_load(path / "optimizer.pt"))
    scheduler.load_state_dict(safe_load(path / "scheduler.pt"))
    set_rng_state(safe_load(path / "rng.pt"))
    return json.loads((path / "state.json").read_text())
