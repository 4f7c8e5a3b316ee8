"""Bottleneck adapters (Houlsby et al. 2019), a small implementation.

AdapterHub's ``adapters`` 1.3.0 requires transformers ~=4.57 and does not install next to
transformers 5.24, so tunewise wraps the chosen linear layers itself: the adapter follows the
attention output projection and the feed-forward output projection of every layer, before the
residual connection and LayerNorm, as in the paper. ``up`` starts at zero, so the adapted model
computes exactly the pretrained function at initialisation (near-identity init).
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field

from tunewise.methods.base import Options, register
from tunewise.methods.full import Method, load_trained_only, save_trained_only
from tunewise.methods.targets import adapter_targets


class AdapterOptions(Options):
    size: int = Field(16, ge=1)
    """Bottleneck width (the paper's m)."""
    activation: str = Field("gelu", pattern="^(gelu|relu|tanh)$")
    """Nonlinearity inside the bottleneck."""
    init_std: float = Field(1e-2, ge=0)
    """Std of the down projection's init (up starts at 0: the adapter starts as identity)."""
    train_layer_norms: bool = True
    """Also train the LayerNorms, as Houlsby et al. do."""
    target_modules: list[str] | None = None
    """Regexes on module names after which adapters go; null = per architecture."""


@register
class Adapter(Method):
    name = "adapter"
    summary = "bottleneck adapters (Houlsby et al. 2019) after attention and FFN outputs + head"
    options = AdapterOptions
    lr_factor = 10.0
    mergeable = False

    def apply(self, model, opts, task, total_steps=None):
        from tunewise.methods.bottleneck_modules import Bottleneck

        patterns = [re.compile(p) for p in adapter_targets(model, opts.target_modules)]
        for p in model.parameters():
            p.requires_grad_(False)
        hits = [n for n, m in model.named_modules() if n and any(p.search(n) for p in patterns)]
        if not hits:
            from tunewise.errors import UserError

            raise UserError(f"method adapter: no module matches {[p.pattern for p in patterns]}")
        for name in hits:
            parent_name, _, child = name.rpartition(".")
            parent = model.get_submodule(parent_name) if parent_name else model
            inner = getattr(parent, child)
            setattr(parent, child, Bottleneck(inner, opts.size, opts.activation, opts.init_std))
        heads = set(task.head_modules(model))
        for name, p in model.named_parameters():
            top = name.split(".")[0]
            if ".adapter_" in name or top in heads:
                p.requires_grad_(True)
            elif opts.train_layer_norms and "layernorm" in name.lower().replace("_", ""):
                p.requires_grad_(True)
        return model

    def save(self, model, path: Path) -> None:
        save_trained_only(model, path)

    def load(self, base, path, opts, task):
        return load_trained_only(self.apply(base, opts, task), path)
