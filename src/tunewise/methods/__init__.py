"""Fine-tuning methods: full, head-only, LoRA (rsLoRA, DoRA), AdaLoRA, IA3, prefix, prompt,
P-tuning and bottleneck adapters, found by name in one registry (see ``base.py``).

Importing this package registers every method; adding a method is one module plus one import
line here. Tasks never change when a method is added, and methods never change for a task.
"""

from tunewise.methods import bottleneck, full, ia3, icl, lora, prompts, setfit  # noqa: F401
from tunewise.methods.api import (
    apply_method,
    attach_trained,
    default_lr,
    load_trained,
    merge_model,
    merged_copy,
    method_hooks,
    method_record,
    resolve,
    save_trained,
    trainable_summary,
)
from tunewise.methods.base import METHODS, Method, MethodHooks, Options, get_method, register

__all__ = [
    "METHODS",
    "Method",
    "MethodHooks",
    "Options",
    "apply_method",
    "attach_trained",
    "default_lr",
    "get_method",
    "load_trained",
    "merge_model",
    "merged_copy",
    "method_hooks",
    "method_record",
    "register",
    "resolve",
    "save_trained",
    "trainable_summary",
]
