"""Exact training levers, on and off, side by side in one run: the time of one training step
(forward + backward + AdamW) of minilm on a fixed batch, fp32 and bf16 autocast.

Levers measured:
  first_position_only   the last layer computes the [CLS] position only
                        (``tunewise.models.head_positions``, ``train.first_position_only``)

    .venv/bin/python benchmarks/bench_levers.py --reps 8 --markdown-out benchmarks/RESULTS.md

Each configuration runs ``--warmup`` steps, then ``--reps`` timed steps; the median is
reported with the CPU flags and the load average before and after.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402


def cpu_flags() -> str:
    flags = set(Path("/proc/cpuinfo").read_text().split())
    return " ".join(sorted(f for f in flags if f.startswith(("avx", "amx"))))


def step_times(model, batch, bf16: bool, warmup: int, reps: int) -> list[float]:
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=True)
    model.train()
    out = []
    for i in range(warmup + reps):
        t0 = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = model(**batch).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if i >= warmup:
            out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=32)
    p.add_argument("--tokens", type=int, default=64)
    p.add_argument("--reps", type=int, default=8)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--markdown-out", type=Path)
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    from transformers import AutoModelForSequenceClassification

    from tunewise.models.head_positions import first_position_only
    from tunewise.models.loading import load_pretrained

    torch.manual_seed(0)
    _, base = load_pretrained("minilm", AutoModelForSequenceClassification.from_pretrained)
    g = torch.Generator().manual_seed(0)
    batch = {
        "input_ids": torch.randint(1000, 20000, (args.rows, args.tokens), generator=g),
        "attention_mask": torch.ones(args.rows, args.tokens, dtype=torch.long),
        "labels": torch.randint(0, 2, (args.rows,), generator=g),
    }
    load0 = os.getloadavg()
    rows = []
    for bf16 in (False, True):
        res = {}
        for lever in (False, True):
            model = copy.deepcopy(base)
            if lever:
                assert first_position_only(model)
            res[lever] = statistics.median(step_times(model, batch, bf16, args.warmup, args.reps))
        rows.append((bf16, res[False], res[True]))
    load1 = os.getloadavg()
    md = [
        f"### first_position_only: minilm step on {args.rows} x {args.tokens} tokens "
        f"(`bench_levers.py --reps {args.reps}`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",
        "",
        f"CPU flags: {cpu_flags()}; {args.threads} threads; load average before "
        f"{load0[0]:.2f}, after {load1[0]:.2f}.",
        "",
        "| precision | lever off (s/step) | lever on (s/step) | speed-up |",
        "|---|---|---|---|",
    ]
    for bf16, off, on in rows:
        md.append(
            f"| {'bf16 autocast' if bf16 else 'fp32'} | {off:.3f} | {on:.3f} | {off / on:.2f}x |"
        )
    text = "\n".join(md) + "\n"
    print(text)
    if args.markdown_out:
        with open(args.markdown_out, "a") as f:
            f.write("\n" + text)


if __name__ == "__main__":
    main()
