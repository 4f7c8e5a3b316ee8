"""What every peft-backed method shares: build a peft config, save, load, merge."""

from __future__ import annotations

import warnings
from pathlib import Path

from tunewise.methods.base import Method, Options


def as_peft(model):
    """The peft model inside ``model`` (the prefix wrapper holds one as ``peft_model``)."""
    return getattr(model, "peft_model", model)


class PeftMethod(Method):
    """A method implemented by a peft config; subclasses write ``peft_config``."""

    def peft_config(self, model, opts: Options, task, total_steps: int | None):
        raise NotImplementedError

    def apply(self, model, opts, task, total_steps=None):
        from peft import get_peft_model

        # peft 0.21 calls a transformers 5 method deprecated in favour of another: noise
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*")
        cfg = self.peft_config(model, opts, task, total_steps)
        return get_peft_model(model, cfg)

    def save(self, model, path: Path) -> None:
        as_peft(model).save_pretrained(str(path))

    def load(self, base, path: Path, opts, task):
        from peft import PeftModel

        return PeftModel.from_pretrained(base, str(path)).eval()

    def merge(self, model):
        return as_peft(model).merge_and_unload()


def task_type(task) -> str:
    return getattr(task, "peft_task_type", "SEQ_CLS")


def head_modules(task, model) -> list[str] | None:
    fn = getattr(task, "head_modules", None)
    names = fn(model) if fn is not None else None
    return list(names) if names else None
