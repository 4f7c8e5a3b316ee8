"""Where a training step's time goes: one epoch of minilm on SST-2 sentences, the loop's work
split into its phases and timed (CPU work is synchronous, so wall-clock timers are exact).

Phases, in the order a step does them (as in ``tunewise.training.loop.fit``):
  data       collate a batch (pad the token ids into tensors) and move it to the device
  forward    the model's forward pass and the task's loss (under bf16 autocast where fast)
  backward   loss.backward()
  optimizer  gradient clipping, AdamW step, scheduler step, zero_grad
  host       the per-step bookkeeping between steps (loss.item(), padding statistics)

    .venv/bin/python benchmarks/profile_step.py --train-rows 2000
Also runs torch.profiler over 20 steps and prints the top operators (``--ops``).
"""

from __future__ import annotations

import argparse
import csv
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="/work/shared/datasets/sst2_sentences")
    p.add_argument("--train-rows", type=int, default=2000)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--bf16", choices=["auto", "on", "off"], default="auto")
    p.add_argument("--ops", action="store_true", help="also print torch.profiler's top operators")
    p.add_argument(
        "--no-first-position-only",
        action="store_true",
        help="leave the last layer computing every position (the loop's default patches it)",
    )
    p.add_argument("--attn", choices=["sdpa", "eager"], default=None, help="attention kernel")
    p.add_argument("--freeze-embeddings", action="store_true", help="train.freeze_embeddings")
    p.add_argument("--dropout", type=float, default=None, help="train.dropout (every layer)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    from transformers import set_seed

    from tunewise.config import TrainConfig
    from tunewise.data.examples import Example
    from tunewise.models.loading import load_pretrained, load_tokenizer
    from tunewise.tasks.classification.task import ClassificationTask
    from tunewise.training.batching import padding_stats, plan_batches
    from tunewise.training.loop import bf16_is_fast, build_optimizer, linear_schedule

    with open(Path(args.data) / "train.tsv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))[: args.train_rows]
    exs = [Example(r["sentence"], r["label"]) for r in rows]
    task = ClassificationTask(sorted({e.label for e in exs}))
    _, tok = load_pretrained("minilm", lambda path: load_tokenizer(path))
    enc = task.encode(exs, tok, 128)
    set_seed(42)
    _, model = load_pretrained("minilm", task.auto_model().from_pretrained, **task.model_kwargs())
    if not args.no_first_position_only:
        from tunewise.models.head_positions import first_position_only

        first_position_only(
            model
        )  # as the loop does for classification (train.first_position_only)
    if args.attn:
        model.set_attn_implementation(args.attn)
    if args.freeze_embeddings:
        model.get_input_embeddings().weight.requires_grad_(False)
    if args.dropout is not None:
        from tunewise.run.fit import set_dropout

        set_dropout(model, args.dropout)
    cfg = TrainConfig(lr=5e-5, batch_size=args.batch)
    opt = build_optimizer(model, cfg)
    plan = plan_batches(enc.lengths, args.batch, 42, 0, True)
    sched = linear_schedule(opt, int(0.1 * len(plan)), len(plan))
    bf16 = bf16_is_fast(torch.device("cpu")) if args.bf16 == "auto" else args.bf16 == "on"
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16)
    phases = dict.fromkeys(("data", "forward", "backward", "optimizer", "host"), 0.0)
    model.train()
    real_tokens = 0
    t_all = time.perf_counter()
    for idx in plan:
        t0 = time.perf_counter()
        batch = {k: v.to("cpu") for k, v in task.collate(enc, idx, 0).items()}
        t1 = time.perf_counter()
        with autocast:
            loss = task.step(model, batch)
        t2 = time.perf_counter()
        loss.backward()
        t3 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        t4 = time.perf_counter()
        loss.item()
        real, _ = padding_stats([idx], enc.lengths)
        real_tokens += real
        t5 = time.perf_counter()
        for k, a, b in (
            ("data", t0, t1),
            ("forward", t1, t2),
            ("backward", t2, t3),
            ("optimizer", t3, t4),
            ("host", t4, t5),
        ):
            phases[k] += b - a
    total = time.perf_counter() - t_all
    print(
        f"one epoch, {len(exs)} rows, {len(plan)} steps of {args.batch}, bf16 autocast "
        f"{'on' if bf16 else 'off'}, {args.threads} threads: {total:.2f} s, "
        f"{len(exs) / total:.1f} ex/s, {real_tokens / total:.0f} real tokens/s"
    )
    print("| phase | seconds | share | ms per step |")
    print("|---|---:|---:|---:|")
    for k, v in phases.items():
        print(f"| {k} | {v:.2f} | {v / total:.1%} | {1000 * v / len(plan):.1f} |")
    rest = total - sum(phases.values())
    print(
        f"| between phases (loop overhead) | {rest:.2f} | {rest / total:.1%} | {1000 * rest / len(plan):.2f} |"
    )
    if args.ops:
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for idx in plan[:20]:
                batch = task.collate(enc, idx, 0)
                with autocast:
                    loss = task.step(model, batch)
                loss.backward()
                opt.step()
                opt.zero_grad(set_to_none=True)
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))


if __name__ == "__main__":
    main()
