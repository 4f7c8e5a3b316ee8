"""What feeds a training step besides the batch plan: the batches themselves, collated one
ahead in a thread, and the attention kernels the step runs (chosen once, at the start)."""

from __future__ import annotations

import numpy as np


def prefetched(task, data, plan: list[list[int]], start: int, pad_id: int, device, ahead: bool):
    """The batches ``plan[start:]``, collated and on ``device``, in order; with ``ahead`` the
    next one is collated in a background thread while the caller computes on this one."""

    def load(bi: int) -> dict:
        batch = task.collate(data, plan[bi], pad_id)
        if device.type == "cuda":
            return {k: v.pin_memory().to(device, non_blocking=True) for k, v in batch.items()}
        return {k: v.to(device) for k, v in batch.items()}

    if not ahead:
        for bi in range(start, len(plan)):
            yield load(bi)
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1, thread_name_prefix="tunewise-collate") as pool:
        nxt = pool.submit(load, start) if start < len(plan) else None
        for bi in range(start, len(plan)):
            batch = nxt.result()
            nxt = pool.submit(load, bi + 1) if bi + 1 < len(plan) else None
            yield batch


def choose_attention(attention, raw, cfg, bf16: bool, train, state, accelerator, echo):
    """Pick the attention kernels for training and evaluation (``train.attention``) with
    ``attention`` (``tunewise.models.attention``: switchable, choose, use); the model then
    runs the training one. Returns the choice, or None where it does not apply."""
    if attention is None or not attention.switchable(raw):
        return None
    if cfg.attention != "auto":
        choice = {"train": cfg.attention, "eval": cfg.attention, "seconds": None}
    elif state.attention:
        choice = state.attention  # decided when the run started: a resume never re-measures
    else:
        length = int(np.median(train.lengths)) if len(train.lengths) else 32
        ev, ev_s = attention.choose(
            raw, training=False, bf16=False, batch=cfg.batch_size * 2, length=length
        )
        tr, tr_s = attention.choose(
            raw, training=True, bf16=bf16, batch=cfg.batch_size, length=length
        )
        choice = {"train": tr, "eval": ev, "seconds": {"train": tr_s, "eval": ev_s}}
        if accelerator.num_processes > 1:  # every process runs rank 0's pick
            from accelerate.utils import broadcast_object_list

            choice = broadcast_object_list([choice])[0]
        ms = {
            k: {n: round(1000 * t, 3) for n, t in v.items()} for k, v in choice["seconds"].items()
        }
        echo(f"attention: {tr} for training, {ev} for evaluation (measured ms per call: {ms})")
    attention.use(raw, choice["train"])
    state.attention = choice
    return choice
