"""IA3 (Liu et al. 2022): learned rescaling of keys, values and feed-forward activations."""

from __future__ import annotations

from tunewise.methods.base import Options, register
from tunewise.methods.peft_common import PeftMethod, head_modules, task_type


class Ia3Options(Options):
    target_modules: list[str] | None = None
    """Modules whose outputs (or inputs, for feed-forward ones) are rescaled; null = peft's
    per-architecture default (BERT: key, value, output.dense)."""
    feedforward_modules: list[str] | None = None
    """Which of target_modules are feed-forward (rescaled at the input); null = peft's default."""


@register
class Ia3(PeftMethod):
    name = "ia3"
    summary = "IA3 (Liu et al. 2022): learned vectors rescaling keys, values and FFN + head"
    options = Ia3Options
    lr_factor = 30.0
    mergeable = True
    shares_base = True

    def peft_config(self, model, opts, task, total_steps):
        from peft import IA3Config

        return IA3Config(
            task_type=task_type(task),
            target_modules=opts.target_modules,
            feedforward_modules=opts.feedforward_modules,
            modules_to_save=head_modules(task, model),
        )
