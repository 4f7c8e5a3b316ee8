"""LoRA and its variants (rsLoRA, DoRA) and AdaLoRA, all through peft."""

from __future__ import annotations

import contextlib
import warnings

from pydantic import Field

from tunewise.methods.base import MethodHooks, Options, register
from tunewise.methods.peft_common import PeftMethod, as_peft, head_modules, task_type
from tunewise.methods.targets import lora_rank, lora_targets


class LoraOptions(Options):
    r: int | None = Field(None, ge=1, le=1024)
    """Rank of the low-rank update; null = per architecture (encoders 4, decoders 8)."""
    alpha: float = Field(16, gt=0)
    """Scaling numerator: the update is scaled by alpha/r (alpha/sqrt(r) with rsLoRA)."""
    dropout: float = Field(0.1, ge=0, lt=1)
    """Dropout on the LoRA branch's input."""
    target_modules: list[str] | None = None
    """Modules to adapt; null = per architecture (every linear layer: BERT query, key, value and
    the dense layers; Llama-style q/k/v/o and gate/up/down)."""
    use_rslora: bool = False
    """rsLoRA: scale by alpha/sqrt(r), stable at high ranks."""
    use_dora: bool = False
    """DoRA: learn magnitude and direction separately (slower per step)."""
    bias: str = Field("none", pattern="^(none|all|lora_only)$")
    """Which biases to train: none, all, lora_only."""


@register
class Lora(PeftMethod):
    name = "lora"
    summary = "LoRA (Hu et al. 2021): low-rank updates of every linear layer + the head"
    options = LoraOptions
    # measured on full SST-2, minilm, 3 epochs x 3 seeds on a GPU (benchmarks/RESULTS.md):
    # r 8 on attention at 1e-3 (10x) 0.876 +- 0.002, 2e-3 0.874 +- 0.011, 3e-3 0.625 +- 0.217
    # (two seeds of three collapsed to one class), 5e-3 0.517; r 4 on every linear layer at 1e-3 0.882 (dev
    # 0.873, the best dev of the rates tried) and 2e-3 0.885 (dev 0.868)
    lr_factor = 10.0
    mergeable = True
    shares_base = True

    def peft_config(self, model, opts, task, total_steps):
        from peft import LoraConfig

        return LoraConfig(
            task_type=task_type(task),
            r=lora_rank(model, opts.r),
            lora_alpha=opts.alpha,
            lora_dropout=opts.dropout,
            target_modules=lora_targets(model, opts.target_modules),
            use_rslora=opts.use_rslora,
            use_dora=opts.use_dora,
            bias=opts.bias,
            modules_to_save=head_modules(task, model),
        )


@register
class RsLora(Lora):
    name = "rslora"
    summary = "rsLoRA (Kalajdzievski 2023): LoRA scaled by alpha/sqrt(r); options in method.lora"
    options_key = "lora"
    fixed = {"use_rslora": True}
    # alpha/sqrt(r) scales updates sqrt(r) (2x at r 4) more than LoRA's alpha/r: half of
    # LoRA's rate gives about the same step (derived; measured in benchmarks/RESULTS.md)
    lr_factor = 5.0


@register
class Dora(Lora):
    name = "dora"
    summary = "DoRA (Liu et al. 2024): weight-decomposed LoRA; options in method.lora"
    options_key = "lora"
    fixed = {"use_dora": True}


class AdaLoraOptions(Options):
    init_r: int = Field(6, ge=1)
    """Starting rank of every adapted matrix."""
    target_r: int = Field(4, ge=1)
    """Average rank left after allocation (the budget)."""
    alpha: float = Field(16, gt=0)
    """Scaling numerator (alpha/r)."""
    dropout: float = Field(0.1, ge=0, lt=1)
    """Dropout on the adapter branch's input."""
    target_modules: list[str] | None = None
    """Modules to adapt; null = per architecture, as for LoRA."""
    tinit: float = Field(0.1, ge=0, lt=1)
    """Share of steps trained at full rank before allocation starts."""
    tfinal: float = Field(0.2, ge=0, lt=1)
    """Share of final steps trained with the allocated ranks frozen."""
    delta_t: int | None = Field(None, ge=1)
    """Steps between two reallocations; null = 1/20 of the allocation phase (at least 1)."""
    orth_reg_weight: float = Field(0.5, ge=0)
    """Weight of the orthogonality penalty on the singular vectors."""


@register
class AdaLora(PeftMethod):
    name = "adalora"
    summary = "AdaLoRA (Zhang et al. 2023): LoRA whose ranks are reallocated during training"
    options = AdaLoraOptions
    # measured on full SST-2 (r 12 -> 8 on the attention maps): 3e-3 0.871 +- 0.004, 1e-3 0.838
    lr_factor = 30.0
    mergeable = True
    shares_base = True

    def peft_config(self, model, opts, task, total_steps):
        from peft import AdaLoraConfig

        from tunewise.errors import UserError

        total = int(total_steps or 0)
        tinit, tfinal = int(opts.tinit * total), int(opts.tfinal * total)
        if total < 3 or tinit + tfinal >= total:
            raise UserError(
                f"method adalora: {total} training steps leave no allocation phase "
                f"(tinit {tinit} + tfinal {tfinal}); train longer or lower "
                "method.adalora.tinit / tfinal"
            )
        delta = opts.delta_t or max(1, (total - tinit - tfinal) // 20)
        if opts.target_r > opts.init_r:
            raise UserError("method.adalora.target_r must not exceed method.adalora.init_r")
        return AdaLoraConfig(
            task_type=task_type(task),
            init_r=opts.init_r,
            target_r=opts.target_r,
            lora_alpha=opts.alpha,
            lora_dropout=opts.dropout,
            target_modules=lora_targets(model, opts.target_modules),
            total_step=total,
            tinit=tinit,
            tfinal=tfinal,
            deltaT=delta,
            orth_reg_weight=opts.orth_reg_weight,
            modules_to_save=head_modules(task, model),
        )

    def save(self, model, path):
        with _quiet_rank_warnings():
            super().save(model, path)

    def load(self, base, path, opts, task):
        with _quiet_rank_warnings():
            return super().load(base, path, opts, task)

    def attach(self, model, path, opts, task, name):
        with _quiet_rank_warnings():
            return super().attach(model, path, opts, task, name)

    def hooks(self, model, opts) -> MethodHooks:
        peft_model = as_peft(model)

        def after_step(step: int) -> None:
            # needs the gradients of this step: called after optimizer.step(), before zero_grad
            peft_model.base_model.update_and_allocate(step)

        def extra_loss():
            return opts.orth_reg_weight * orthogonal_penalty(peft_model)

        def state() -> dict:
            # the importance scores (running averages over steps) decide every reallocation;
            # a resume without them would prune different ranks than the uninterrupted run
            alloc = peft_model.base_model.rankallocator
            cfg = peft_model.base_model.peft_config[peft_model.base_model.trainable_adapter_name]
            return {
                k: {n: t.detach().cpu().clone() for n, t in getattr(alloc, k).items()}
                for k in ("ipt", "exp_avg_ipt", "exp_avg_unc")
            } | {"rank_pattern": cfg.rank_pattern}

        def load_state(saved: dict) -> None:
            alloc = peft_model.base_model.rankallocator
            cfg = peft_model.base_model.peft_config[peft_model.base_model.trainable_adapter_name]
            device = next(peft_model.parameters()).device
            for k in ("ipt", "exp_avg_ipt", "exp_avg_unc"):
                setattr(alloc, k, {n: t.to(device) for n, t in saved[k].items()})
            cfg.rank_pattern = saved["rank_pattern"]

        return MethodHooks(
            after_step=after_step, extra_loss=extra_loss, state=state, load_state=load_state
        )


@contextlib.contextmanager
def _quiet_rank_warnings():
    """peft 0.21 warns about AdaLoRA's own pruned ranks on save (zero-sized tensors, "ZeRO-3
    shards") and load (rank_pattern keys): expected here, and the contract test checks that
    the reloaded model gives identical outputs."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*LoRA tensor.*invalid shape.*")
        warnings.filterwarnings("ignore", message=".*rank_pattern keys did not match.*")
        yield


def orthogonal_penalty(model):
    """Mean over AdaLoRA's P (lora_A) and Q (lora_B) of ||P P^T - I||_F (resp. Q^T Q).

    peft adds this only when the model computes its own loss from ``labels``; tunewise's
    tasks own the loss, so the method supplies it to the loop explicitly.
    """
    import torch

    total, n = None, 0
    for name, p in model.named_parameters():
        if not p.requires_grad or ("lora_A" not in name and "lora_B" not in name):
            continue
        cov = p @ p.T if "lora_A" in name else p.T @ p
        eye = torch.eye(*cov.shape, device=cov.device, dtype=cov.dtype)
        term = torch.norm(cov - eye, p="fro")
        total = term if total is None else total + term
        n += 1
    return total / n if n else 0.0
