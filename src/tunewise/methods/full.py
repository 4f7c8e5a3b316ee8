"""Full fine-tuning (every weight) and head-only training (the encoder frozen)."""

from __future__ import annotations

import json
from pathlib import Path

from tunewise.methods.base import Method, register

TRAINED_FILE = "tunewise_trained.safetensors"
TRAINED_INDEX = "tunewise_trained.json"


@register
class Full(Method):
    name = "full"
    summary = "full fine-tuning: every weight is trained (the baseline)"
    lr_factor = 1.0
    mergeable = True
    needs_base = False

    def apply(self, model, opts, task, total_steps=None):
        for p in model.parameters():
            p.requires_grad_(True)
        return model

    def save(self, model, path: Path) -> None:
        model.save_pretrained(str(path))

    def load(self, base, path, opts, task):
        return base.eval()  # ``base`` was loaded from ``path`` itself

    def merge(self, model):
        return model


def save_trained_only(model, path: Path) -> None:
    """Save the parameters that require grad (and nothing else) with their names."""
    from safetensors.torch import save_file

    state = {
        n: p.detach().contiguous().cpu() for n, p in model.named_parameters() if p.requires_grad
    }
    save_file(state, str(path / TRAINED_FILE))
    (path / TRAINED_INDEX).write_text(json.dumps({"parameters": sorted(state)}, indent=1))


def load_trained_only(model, path: Path):
    """Load what :func:`save_trained_only` wrote into ``model``; every saved tensor must land."""
    from safetensors.torch import load_file

    state = load_file(str(path / TRAINED_FILE))
    result = model.load_state_dict(state, strict=False)
    if result.unexpected_keys:
        raise RuntimeError(
            f"{path}: saved parameters missing from the model: {result.unexpected_keys[:5]}"
        )
    return model.eval()


@register
class Head(Method):
    name = "head"
    summary = "head only: the pretrained encoder is frozen, only the task head is trained"
    lr_factor = 100.0
    mergeable = True

    def apply(self, model, opts, task, total_steps=None):
        heads = set(task.head_modules(model))
        if not heads:
            from tunewise.errors import UserError

            raise UserError(f"method head: the {task.name} task has no head to train")
        for name, p in model.named_parameters():
            p.requires_grad_(name.split(".")[0] in heads)
        return model

    def save(self, model, path: Path) -> None:
        save_trained_only(model, path)

    def load(self, base, path, opts, task):
        return load_trained_only(base, path)

    def merge(self, model):
        return model
