"""The machine's measured matrix-multiply ceiling, and what it allows a training run.

Times ``torch.mm`` in fp32 and bf16 on square and on training-shaped products (tokens x hidden
x hidden, tokens x hidden x 4 hidden) and keeps the best GFLOP/s of each dtype: no training
step can multiply faster than that. A transformer's training step does about 6 FLOPs per
non-embedding parameter per token (forward 2, backward 4), so the ceiling in real tokens/s is
``GFLOP/s / (6 * non-embedding parameters)`` (attention's own products add ~2-3% at SST-2's
lengths and are left out: the ceiling is an upper bound).

    .venv/bin/python benchmarks/gemm_ceiling.py [--model minilm] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

SHAPES = [
    (1024, 1024, 1024),
    (2048, 2048, 2048),
    (1024, 384, 384),
    (1024, 384, 1536),
    (1024, 1536, 384),
]


def gflops(m: int, k: int, n: int, dtype: torch.dtype, seconds: float = 0.5) -> float:
    a, b = torch.randn(m, k).to(dtype), torch.randn(k, n).to(dtype)
    for _ in range(3):
        a @ b  # warm-up
    best = float("inf")
    t_end = time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * m * k * n / best / 1e9


def measure(threads: int | None = None) -> dict:
    """{"fp32": best GFLOP/s, "bf16": ..., "shapes": per shape}."""
    if threads:
        torch.set_num_threads(threads)
    per = {}
    for dt, name in ((torch.float32, "fp32"), (torch.bfloat16, "bf16")):
        per[name] = {f"{m}x{k}x{n}": round(gflops(m, k, n, dt), 1) for m, k, n in SHAPES}
    return {
        "fp32": max(per["fp32"].values()),
        "bf16": max(per["bf16"].values()),
        "shapes": per,
        "threads": torch.get_num_threads(),
    }


def non_embedding_params(model_name: str) -> int:
    from transformers import AutoModel

    from tunewise.models.registry import resolve_model

    model = AutoModel.from_pretrained(resolve_model(model_name).path)
    emb = {
        id(p) for m in model.modules() if isinstance(m, torch.nn.Embedding) for p in m.parameters()
    }
    return sum(p.numel() for p in model.parameters() if id(p) not in emb)


def tokens_ceiling(gflop_s: float, params: int) -> float:
    """Real tokens/s a training step could reach if every FLOP ran at ``gflop_s``."""
    return gflop_s * 1e9 / (6 * params)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="minilm")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    ceiling = measure(args.threads)
    params = non_embedding_params(args.model)
    ceiling["model"] = args.model
    ceiling["non_embedding_params"] = params
    ceiling["tokens_per_s"] = {
        k: round(tokens_ceiling(ceiling[k], params)) for k in ("fp32", "bf16")
    }
    print(json.dumps(ceiling, indent=2))


if __name__ == "__main__":
    main()
