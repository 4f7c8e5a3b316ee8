"""Which attention kernel a BERT-family encoder runs: measured on this machine, not assumed.

``transformers`` loads encoders with PyTorch's SDPA. On a CPU that is not always the faster
path: with dropout on the attention probabilities (training) PyTorch's CPU SDPA has no fused
kernel and takes its math path, which under bf16 autocast measured slower than the model's own
eager attention (2-core Xeon with AMX, 32 x 12 heads x 32 tokens, forward + backward: 6.3 ms
SDPA vs 4.2 ms eager); without dropout (inference) its flash kernel wins in fp32 (2.5 vs 4.2)
and loses in bf16 (15 vs 2.1). So :func:`choose` times both on the model's own attention
function and shapes, in the mode about to run, and keeps the faster.

Both paths draw the same dropout masks from the same generator and compute the same
softmax(QK^T / sqrt(d) + mask) V: switching changes the numbers only by float rounding
(``tests/unit/test_exact_levers.py`` trains with each and compares losses and weights). The
choice lives in the loaded model's config (``_attn_implementation``), never in saved files.
"""

from __future__ import annotations

import sys
import time

import torch
from torch import nn

from tunewise.models.head_positions import _bert_shaped, _last_encoder_layer

CHOICES = ("sdpa", "eager")
MARGIN = 0.9
"""Eager replaces SDPA only when it takes under this share of SDPA's time (a clear win)."""


def current(model: nn.Module) -> str | None:
    config = getattr(model, "config", None)
    return getattr(config, "_attn_implementation", None)


def switchable(model: nn.Module) -> bool:
    """A BERT-shaped encoder running SDPA or eager attention, which ``transformers`` can
    switch between (``set_attn_implementation``)."""
    layer = _last_encoder_layer(model)
    return (
        layer is not None
        and _bert_shaped(layer)
        and current(model) in CHOICES
        and hasattr(model, "set_attn_implementation")
    )


def _functions(layer: nn.Module) -> dict:
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

    module = sys.modules[type(layer.attention.self).__module__]
    return {"sdpa": ALL_ATTENTION_FUNCTIONS["sdpa"], "eager": module.eager_attention_forward}


def measure(
    model: nn.Module,
    *,
    training: bool,
    bf16: bool,
    batch: int,
    length: int,
    rounds: int = 5,
) -> dict[str, float]:
    """Seconds per attention call (forward, plus backward when ``training``) of each kernel
    on random inputs of the model's shape; the fastest of ``rounds`` (another process's load
    only adds time). The global random generator is left as it was."""
    layer = _last_encoder_layer(model)
    sa = layer.attention.self
    device = next(model.parameters()).device
    heads, dim = sa.num_attention_heads, sa.attention_head_size
    dtype = torch.bfloat16 if bf16 else torch.float32
    p = float(sa.dropout.p) if training else 0.0
    gen = torch.Generator(device="cpu").manual_seed(0)
    shape = (batch, heads, length, dim)
    qkv = [torch.randn(shape, generator=gen).to(device=device, dtype=dtype) for _ in range(3)]
    mask = torch.zeros(batch, 1, 1, length, device=device, dtype=dtype)
    mask[: batch // 2, ..., length - length // 4 :] = torch.finfo(dtype).min  # some padding
    was_training = sa.training
    sa.train(training)
    times = {}
    try:
        with (
            torch.random.fork_rng(devices=[device] if device.type == "cuda" else []),
            torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16),  # as the loop runs
        ):
            for name, fn in _functions(layer).items():
                q, k, v = (t.clone().requires_grad_(training) for t in qkv)
                _call(fn, sa, q, k, v, mask, p, training)  # warm-up: allocations, dispatch
                best = float("inf")
                for _ in range(rounds):
                    t0 = time.perf_counter()
                    _call(fn, sa, q, k, v, mask, p, training)
                    if device.type == "cuda":
                        torch.cuda.synchronize()
                    best = min(best, time.perf_counter() - t0)
                times[name] = best
    finally:
        sa.train(was_training)
    return times


def _call(fn, sa, q, k, v, mask, p: float, training: bool) -> None:
    with torch.enable_grad() if training else torch.inference_mode():
        out, _ = fn(sa, q, k, v, mask, dropout=p, scaling=sa.scaling)
        if training:
            out.float().sum().backward()


def choose(
    model: nn.Module, *, training: bool, bf16: bool, batch: int, length: int
) -> tuple[str | None, dict[str, float]]:
    """Switch ``model`` to the faster attention kernel for this mode; returns (the kernel,
    the seconds measured). (None, {}) for a model this does not apply to (left as it is)."""
    if not switchable(model):
        return None, {}
    if next(model.parameters()).device.type == "cuda":
        return current(model), {}  # fused SDPA kernels (flash, memory-efficient) on GPUs
    times = measure(model, training=training, bf16=bf16, batch=batch, length=max(2, length))
    pick = "eager" if times["eager"] < MARGIN * times["sdpa"] else "sdpa"
    use(model, pick)
    return pick, times


def use(model: nn.Module, name: str) -> None:
    """Run ``model``'s attention through ``name`` (``sdpa`` or ``eager``)."""
    if current(model) != name:
        model.set_attn_implementation(name)


def for_inference(model, batch: int = 32, length: int = 64) -> None:
    """Ready a loaded predictor's model (an ``nn.Module``; a shared-base view is left alone):
    the last layer computes only the position a [CLS] head reads, and attention runs through
    the kernel measured faster for fp32 inference here. Same outputs up to float rounding."""
    from tunewise.models.head_positions import first_position_only

    if isinstance(model, nn.Module):
        first_position_only(model)
        choose(model, training=False, bf16=False, batch=batch, length=length)
