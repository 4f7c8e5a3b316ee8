"""The training loop: one, flat, on accelerate.

Extension points are explicit arguments: the task (loss, metrics), ``on_best`` (save the
best model), ``log`` (write a record) and the checkpoint directory.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from tunewise.config import TrainConfig
from tunewise.errors import UserError
from tunewise.training.batching import eval_batches, padding_stats, plan_batches, shard
from tunewise.training.checkpoint import (
    latest_checkpoint,
    load_checkpoint,
    recover,
    save_checkpoint,
)
from tunewise.training.feeding import choose_attention, prefetched


@dataclass
class LoopState:
    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    best: float | None = None
    best_step: int | None = None
    bad_evals: int = 0
    stopped_early: bool = False
    examples: int = 0
    train_seconds: float = 0.0
    real_tokens: int = 0
    total_tokens: int = 0
    last_eval_step: int | None = None
    bf16: bool = False
    attention: dict | None = None
    """The attention kernels chosen when the run started ({"train", "eval", "seconds"});
    a resume keeps them."""
    epochs_done: float = 0.0
    run_loss: float = 0.0
    """Sum of the losses since the last logged record (so the first record after a resume
    averages the same batches an uninterrupted run's does)."""
    run_n: int = 0
    evals: list = field(default_factory=list)


def bf16_is_fast(device: torch.device) -> bool:
    """Whether bf16 autocast speeds training up here: a measured check on CPU, where bf16
    matmul is fast only with AVX512-BF16/AMX (on an AVX2-only CPU it is ~50x slower)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type != "cpu":
        return False
    # a private generator: the probe never moves the global RNG (resumes stay exact)
    a = torch.randn(256, 256, generator=torch.Generator().manual_seed(0))
    times = {}
    for dt in (torch.float32, torch.bfloat16):
        x = a.to(dt)
        x @ x
        rounds = []
        for _ in range(5):  # the fastest of 5 rounds: another process's load only adds time
            t = time.perf_counter()
            for _ in range(4):
                x @ x
            rounds.append(time.perf_counter() - t)
        times[dt] = min(rounds)
    # CPUs with bf16 units measured 2.5-5x faster in bf16, AVX2-only ones ~50x slower: a
    # threshold between, on the fastest rounds, does not flip under load
    return times[torch.bfloat16] < 0.7 * times[torch.float32]


def is_head(name: str, model) -> bool:
    """A parameter of the task head: outside the pretrained body (``base_model_prefix``,
    e.g. ``bert.``), also under a PEFT wrapper (``base_model.model.bert...``)."""
    inner = getattr(model, "get_base_model", lambda: model)()
    prefix = getattr(inner, "base_model_prefix", "")
    return bool(prefix) and not (name.startswith(f"{prefix}.") or f".{prefix}." in name)


def build_optimizer(model, cfg: TrainConfig):
    """AdamW without weight decay on biases and LayerNorm weights; the head at
    ``cfg.head_lr`` when set (a group's ``lr`` is its peak: the schedule scales each)."""
    groups: dict = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        wd = 0.0 if p.ndim < 2 or "norm" in name.lower() else cfg.weight_decay
        lr = cfg.head_lr if cfg.head_lr is not None and is_head(name, model) else cfg.lr
        groups.setdefault((wd, lr), []).append(p)
    return torch.optim.AdamW(
        [{"params": ps, "weight_decay": wd, "lr": lr} for (wd, lr), ps in groups.items()],
        lr=cfg.lr,
        fused=True,
    )


def linear_schedule(optimizer, warmup: int, total: int):
    """Linear warmup to the peak lr over ``warmup`` steps, then linear decay to 0 at ``total``.

    Not transformers' ``get_linear_schedule_with_warmup``: measured side by side
    (benchmarks/bench_libraries.py) it is identical from the peak on, but its first optimizer
    step runs at lr 0 (a step that changes nothing); this warmup starts at peak/warmup.
    """

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / max(1, warmup)
        return max(0.0, (total - step) / max(1, total - warmup))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def predict_logits(model, task, data, batch_size: int, accelerator, pad_id: int):
    """Logits for every row of ``data`` in row order, fp32, gathered across processes.

    A task with ``row_outputs`` (token tasks) turns each batch into one array per row (e.g.
    word-level logits); the result is then a list of arrays in row order instead of one array.
    """
    model.eval()
    plan = eval_batches(data.lengths, batch_size)
    mine = shard(plan, accelerator.process_index, accelerator.num_processes)
    rows, outs = [], []
    per_row = getattr(task, "row_outputs", None)
    with torch.inference_mode():
        for idx in mine:
            batch = task.collate(data, idx, pad_id)
            batch.pop("labels", None)
            batch = {k: v.to(accelerator.device) for k, v in batch.items()}
            out = task.forward(model, batch).float().cpu().numpy()
            outs.append(per_row(out, data, idx) if per_row else out)
            rows.extend(idx)
    if accelerator.num_processes > 1:
        from accelerate.utils import gather_object

        pairs = gather_object([(rows, outs)])
        rows = [r for rs, _ in pairs for r in rs]
        outs = [o for _, os_ in pairs for o in os_]
    if per_row:
        ragged: list = [None] * len(data)
        for r, row in zip(rows, (x for o in outs for x in o)):
            if ragged[r] is None:
                ragged[r] = row
        missing = sum(x is None for x in ragged)
        if missing:
            raise RuntimeError(f"evaluation covered {len(data) - missing} of {len(data)} rows")
        return ragged
    logits = np.concatenate(outs) if outs else np.zeros((0, 0), dtype=np.float32)
    result = np.zeros((len(data), logits.shape[1]), dtype=np.float32)
    seen = np.zeros(len(data), dtype=bool)
    for r, row in zip(rows, logits):
        if not seen[r]:  # padded shards repeat batches: keep each row once
            result[r] = row
            seen[r] = True
    if not seen.all():
        raise RuntimeError(f"evaluation covered {int(seen.sum())} of {len(data)} rows")
    return result


class _Progress:
    """Loss, examples/s and ETA: a rich bar on a terminal, a plain line every ~5% otherwise,
    nothing off the main process."""

    def __init__(self, total: int, enabled: bool, start: int, echo):
        self.bar = None
        self.total, self.echo, self.enabled = total, echo, enabled
        self.every = max(1, total // 20)
        self.tty = sys.stderr.isatty()
        if enabled and self.tty:
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(
                TextColumn("[bold]train"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total} steps"),
                TextColumn("loss {task.fields[loss]:.4f}"),
                TextColumn("{task.fields[eps]:.1f} ex/s"),
                TextColumn("ETA"),
                TimeRemainingColumn(),
            )
            self.task = self.bar.add_task(
                "train", total=total, completed=start, loss=float("nan"), eps=0.0
            )
            self.bar.start()

    def update(self, step: int, loss, eps: float, seconds_per_step: float) -> None:
        """``loss``: called only when the value is shown (reading it waits for the device)."""
        if self.bar:
            shown = {"loss": loss()} if step % 10 == 0 or step == self.total else {}
            self.bar.update(self.task, completed=step, eps=eps, **shown)
        elif self.enabled and (step % self.every == 0 or step == self.total):
            eta = int(seconds_per_step * (self.total - step))
            self.echo(
                f"step {step}/{self.total}  loss {loss():.4f}  {eps:.1f} ex/s  ETA {eta // 60}m{eta % 60:02d}s"
            )

    def close(self) -> None:
        if self.bar:
            self.bar.stop()


def planned_steps(train, cfg: TrainConfig, world: int = 1, rank: int = 0) -> tuple[int, int]:
    """(optimizer steps the run will take, steps per epoch) for ``train`` under ``cfg``."""
    per_epoch_batches = len(
        shard(
            plan_batches(
                train.lengths,
                cfg.batch_size,
                cfg.seed,
                0,
                False,
                token_budget=cfg.token_budget,
            ),
            rank,
            world,
        )
    )
    steps_per_epoch = math.ceil(per_epoch_batches / cfg.grad_accum)
    total = math.ceil(cfg.epochs * steps_per_epoch)
    if cfg.max_steps:
        total = min(total, cfg.max_steps)
    return total, steps_per_epoch


def fit(
    *,
    model,
    task,
    train,
    dev,
    cfg: TrainConfig,
    accelerator,
    pad_id: int,
    metric: str,
    checkpoint_dir: Path,
    resume: bool = False,
    train_probe=None,
    on_best=None,
    log=None,
    echo=None,
    method_hooks=None,
    attention=None,
) -> LoopState:
    """Train ``model`` on ``train``, evaluating on ``dev``; returns the final loop state.

    Args:
        metric: key of the task's metrics that picks the best checkpoint (higher is better).
        checkpoint_dir: where resumable checkpoints go; with ``resume`` the newest is loaded.
        train_probe: a fixed subset of train evaluated alongside dev (the overfitting gap).
        on_best: called with the unwrapped model whenever dev ``metric`` improves.
        log: called with one dict per log record (steps and evaluations).
        echo: called with a line of text for the user (main process only).
        method_hooks: the fine-tuning method's ``MethodHooks`` (tunewise.methods): an extra
            loss term, and a call after every optimizer step (AdaLoRA's rank allocation).
        attention: what picks the attention kernels (``tunewise.models.attention``, passed
            in by the runner: training does not import models); None leaves them alone.
    """
    log = log or (lambda rec: None)
    echo = echo or (lambda line: None)
    world, rank = accelerator.num_processes, accelerator.process_index
    total, steps_per_epoch = planned_steps(train, cfg, world, rank)
    extra_loss = getattr(method_hooks, "extra_loss", None)
    after_step = getattr(method_hooks, "after_step", None)
    method_state = getattr(method_hooks, "state", None)
    load_method_state = getattr(method_hooks, "load_state", None)
    n_epochs = math.ceil(total / steps_per_epoch)

    optimizer = build_optimizer(model, cfg)
    scheduler = linear_schedule(optimizer, int(cfg.warmup_ratio * total), total)
    model, optimizer = accelerator.prepare(model, optimizer)
    raw = accelerator.unwrap_model(model)

    state = LoopState()
    if resume:
        if accelerator.is_main_process:
            recover(checkpoint_dir)  # a complete copy a kill left under a temporary name
        accelerator.wait_for_everyone()
        ckpt = latest_checkpoint(checkpoint_dir)
        if ckpt is not None:
            state = LoopState(**load_checkpoint(ckpt, raw, optimizer, scheduler, load_method_state))
            echo(
                f"resumed from {ckpt.name} (step {state.step}, epoch {state.epoch + 1}, batch {state.batch_in_epoch})"
            )

    def checkpoint() -> None:
        state.run_loss, state.run_n = float(running), running_n
        if accelerator.is_main_process:
            save_checkpoint(
                checkpoint_dir,
                state.step,
                raw,
                optimizer,
                scheduler,
                asdict(state),
                method_state=method_state() if method_state is not None else None,
            )
        accelerator.wait_for_everyone()

    log_keys = task.log_keys

    def split_metrics(data) -> dict:
        if kernels:
            attention.use(raw, kernels["eval"])
        try:
            return task.split_metrics(model, data, cfg.batch_size * 2, accelerator, pad_id)
        finally:
            if kernels:
                attention.use(raw, kernels["train"])

    def evaluate() -> None:
        if dev is None or len(dev) == 0:
            return
        m = split_metrics(dev)
        # internally higher is better; a task names the metrics where lower is better
        value = -m[metric] if metric in getattr(task, "lower_is_better", ()) else m[metric]
        rec = {
            "type": "eval",
            "step": state.step,
            "epoch": state.epoch + 1,
            "split": "dev",
            **{k: m[k] for k in log_keys},
        }
        improved = state.best is None or value > state.best + 1e-9
        if improved:
            state.best, state.best_step, state.bad_evals = value, state.step, 0
            if on_best is not None and accelerator.is_main_process:
                on_best(raw)
            accelerator.wait_for_everyone()
        else:
            state.bad_evals += 1
        rec["best"] = improved
        state.last_eval_step = state.step
        state.evals.append(rec)
        log(rec)
        if train_probe is not None and len(train_probe):
            tm = split_metrics(train_probe)
            trec = {
                "type": "eval",
                "step": state.step,
                "epoch": state.epoch + 1,
                "split": "train",
                "rows": len(train_probe),
                **{k: tm[k] for k in log_keys},
            }
            state.evals.append(trec)
            log(trec)
        echo(f"step {state.step}: dev {metric} {m[metric]:.4f}{' (best)' if improved else ''}")
        if cfg.early_stopping_patience and state.bad_evals >= cfg.early_stopping_patience:
            state.stopped_early = True
        model.train()

    progress = _Progress(total, accelerator.is_main_process, state.step, echo)
    if cfg.bf16 == "auto" and state.step > 0:
        use_bf16 = state.bf16  # decided once, when the run started: a resume never re-measures
        echo(f"bf16 autocast: {'on' if use_bf16 else 'off'} (the run's saved choice)")
    elif cfg.bf16 == "auto":
        use_bf16 = bf16_is_fast(accelerator.device)
        echo(f"bf16 autocast: {'on' if use_bf16 else 'off (bf16 matmul is slow on this device)'}")
    else:
        use_bf16 = bool(cfg.bf16)
    state.bf16 = use_bf16
    kernels = choose_attention(attention, raw, cfg, use_bf16, train, state, accelerator, echo)
    autocast = (
        torch.autocast(device_type=accelerator.device.type, dtype=torch.bfloat16)
        if use_bf16
        else contextlib.nullcontext()
    )
    model.train()
    # carried over a resume (the main process's share: it is the one that saved them)
    # The sum stays on the device: read (a host synchronisation) only where a value is shown.
    running = torch.tensor(
        state.run_loss if accelerator.is_main_process else 0.0,
        dtype=torch.float64,
        device=accelerator.device,
    )
    running_n = state.run_n if accelerator.is_main_process else 0
    try:
        while state.epoch < n_epochs and state.step < total and not state.stopped_early:
            plan = shard(
                plan_batches(
                    train.lengths,
                    cfg.batch_size,
                    cfg.seed,
                    state.epoch,
                    cfg.group_by_length,
                    token_budget=cfg.token_budget,
                ),
                rank,
                world,
            )
            batches = prefetched(
                task, train, plan, state.batch_in_epoch, pad_id, accelerator.device, cfg.prefetch
            )
            for bi in range(state.batch_in_epoch, len(plan)):
                t0 = time.perf_counter()
                idx = plan[bi]
                batch = next(batches)
                sync = (bi + 1) % cfg.grad_accum == 0 or bi + 1 == len(plan)
                ctx = contextlib.nullcontext() if sync else accelerator.no_sync(model)
                with ctx:
                    with autocast:
                        # the task's objective: a head + cross-entropy, a ranking or a
                        # contrastive loss, masked or causal LM; computed in fp32 by the task
                        loss = task.step(model, batch)
                    if extra_loss is not None:
                        loss = loss + extra_loss()
                    accelerator.backward(loss / cfg.grad_accum)
                running += loss.detach()
                running_n += 1
                real, tot = padding_stats([idx], train.lengths)
                state.real_tokens += real
                state.total_tokens += tot
                state.examples += len(idx) * world
                state.batch_in_epoch = bi + 1
                if sync:
                    if cfg.max_grad_norm:
                        accelerator.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
                    optimizer.step()
                    scheduler.step()
                    if after_step is not None:
                        after_step(state.step)  # before zero_grad: AdaLoRA reads the grads
                    optimizer.zero_grad(set_to_none=True)
                    state.step += 1
                state.train_seconds += time.perf_counter() - t0
                if not sync:
                    continue
                eps = state.examples / max(state.train_seconds, 1e-9)
                progress.update(
                    state.step,
                    lambda r=running, n=running_n: float(r) / max(n, 1),
                    eps,
                    state.train_seconds / max(state.step, 1),
                )
                if state.step % 10 == 0 or state.step == total:
                    if world > 1:  # the loss over every process's batches, not rank 0's alone
                        t = accelerator.reduce(
                            torch.stack([running, torch.tensor(running_n).to(running)]), "sum"
                        )
                        running, running_n = t[0], int(t[1])
                    shown = float(running) / running_n
                    if not math.isfinite(shown):
                        # read here only, where the value is logged anyway (no extra sync)
                        raise UserError(
                            f"training diverged: the mean loss of steps {(state.step - 1) // 10 * 10 + 1}-"
                            f"{state.step} is {shown} (learning rate {cfg.lr}); the run is "
                            "marked failed and no model is saved: lower train.lr, or check "
                            "the extra loss terms (e.g. --ewc-lambda)"
                        )
                    log(
                        {
                            "type": "train",
                            "step": state.step,
                            "epoch": state.epoch + 1,
                            "loss": shown,
                            "lr": scheduler.get_last_lr()[0],
                            "examples_per_s": eps,
                        }
                    )
                    running, running_n = torch.zeros_like(running), 0
                if cfg.eval_every and state.step % cfg.eval_every == 0:
                    evaluate()
                    checkpoint()
                elif cfg.checkpoint_every and state.step % cfg.checkpoint_every == 0:
                    checkpoint()
                if state.step >= total or state.stopped_early:
                    break
            else:
                if not cfg.eval_every:
                    evaluate()
                state.epoch += 1
                state.batch_in_epoch = 0
                checkpoint()
                continue
            break
        if state.last_eval_step != state.step:
            evaluate()
            checkpoint()
    finally:
        progress.close()
    state.epochs_done = round(state.step / steps_per_epoch, 3)
    if dev is None or len(dev) == 0:
        # no dev set: the final weights are the model
        if on_best is not None and accelerator.is_main_process:
            on_best(raw)
    accelerator.wait_for_everyone()
    return state
