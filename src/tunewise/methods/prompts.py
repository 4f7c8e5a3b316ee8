"""Soft prompts through peft: prefix tuning, prompt tuning and P-tuning.

None of them can be merged into the weights; their saved directory is the small peft adapter
(virtual tokens or prefixes, plus the task head).
"""

from __future__ import annotations

import inspect

from pydantic import Field

from tunewise.methods.base import Options, register
from tunewise.methods.peft_common import PeftMethod, head_modules, task_type


class PrefixOptions(Options):
    num_virtual_tokens: int = Field(20, ge=1, le=512)
    """Prefix length: key/value vectors prepended in every layer."""
    projection: bool = False
    """Reparametrise the prefix through a two-layer MLP (Li & Liang 2021) while training."""
    encoder_hidden_size: int = Field(256, ge=1)
    """Hidden size of that MLP (with projection only)."""


class PromptOptions(Options):
    num_virtual_tokens: int = Field(20, ge=1, le=512)
    """Soft prompt length: embeddings prepended to the input."""


class PtuningOptions(Options):
    num_virtual_tokens: int = Field(20, ge=1, le=512)
    """Soft prompt length."""
    encoder_hidden_size: int = Field(128, ge=1)
    """Hidden size of the prompt encoder."""
    encoder_type: str = Field("MLP", pattern="^(MLP|LSTM)$")
    """Prompt encoder: MLP or LSTM."""


def _with_heads(cfg, task, model):
    heads = head_modules(task, model)
    if heads and hasattr(cfg, "modules_to_save"):
        cfg.modules_to_save = heads
    return cfg


class _PromptMethod(PeftMethod):
    lr_factor = 100.0
    mergeable = False


@register
class Prefix(_PromptMethod):
    name = "prefix"
    summary = "prefix tuning (Li & Liang 2021): trained key/value prefixes in every layer + head"
    options = PrefixOptions

    def peft_config(self, model, opts, task, total_steps):
        from peft import PrefixTuningConfig

        return _with_heads(
            PrefixTuningConfig(
                task_type=task_type(task),
                num_virtual_tokens=opts.num_virtual_tokens,
                prefix_projection=opts.projection,
                encoder_hidden_size=opts.encoder_hidden_size,
            ),
            task,
            model,
        )

    def apply(self, model, opts, task, total_steps=None):
        return _wrap_prefix(super().apply(model, opts, task, total_steps))

    def load(self, base, path, opts, task):
        return _wrap_prefix(super().load(base, path, opts, task)).eval()


def _wrap_prefix(peft_model):
    """peft passes prefixes as ``past_key_values``; transformers 5 encoders (BERT) take the
    same cache as ``cache`` and peft 0.21 refuses them, so those get a small wrapper."""
    model = peft_model.get_base_model()
    top = inspect.signature(model.forward).parameters
    backbone = inspect.signature(getattr(model, "base_model", model).forward).parameters
    if "past_key_values" in top or "past_key_values" in backbone:
        return peft_model
    if "cache" not in backbone:
        from tunewise.errors import UserError

        raise UserError(
            f"method prefix: {type(model).__name__} takes no key/value cache, which prefix "
            "tuning needs; use prompt or ptuning instead"
        )
    from tunewise.methods.prefix_shim import PrefixModel

    return PrefixModel(peft_model)


@register
class Prompt(_PromptMethod):
    name = "prompt"
    summary = "prompt tuning (Lester et al. 2021): trained soft-prompt embeddings + head"
    options = PromptOptions
    lr_factor = 300.0

    def peft_config(self, model, opts, task, total_steps):
        from peft import PromptTuningConfig

        return _with_heads(
            PromptTuningConfig(
                task_type=task_type(task), num_virtual_tokens=opts.num_virtual_tokens
            ),
            task,
            model,
        )


@register
class Ptuning(_PromptMethod):
    name = "ptuning"
    summary = "P-tuning (Liu et al. 2021): soft prompt produced by a small encoder + head"
    options = PtuningOptions

    def peft_config(self, model, opts, task, total_steps):
        from peft import PromptEncoderConfig

        return _with_heads(
            PromptEncoderConfig(
                task_type=task_type(task),
                num_virtual_tokens=opts.num_virtual_tokens,
                encoder_hidden_size=opts.encoder_hidden_size,
                encoder_reparameterization_type=opts.encoder_type,
            ),
            task,
            model,
        )
