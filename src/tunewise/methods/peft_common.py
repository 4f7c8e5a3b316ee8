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

    def attach(self, model, path: Path, opts, task, name: str):
        from peft import PeftConfig, PeftModel
        from peft.utils import load_peft_weights

        if not isinstance(model, PeftModel):  # the first adapter on a fresh base
            return PeftModel.from_pretrained(model, str(path), adapter_name=name).eval()
        cfg = PeftConfig.from_pretrained(str(path))
        cfg.inference_mode = True
        model.add_adapter(name, cfg)
        fit_head_copies(model, load_peft_weights(str(path), device="cpu"), name)
        device = next(model.parameters()).device
        model.load_adapter(str(path), adapter_name=name, torch_device=str(device))
        return model.eval()

    def merge(self, model):
        return as_peft(model).merge_and_unload()


def fit_head_copies(model, weights: dict, name: str) -> None:
    """Give adapter ``name``'s copies of the head (peft's ``modules_to_save``) the shapes of the
    saved ``weights``. peft copies each head from the base loaded for the first adapter, so a
    run with another number of labels would not fit its copy; the values are loaded next."""
    import torch
    from peft.utils import ModulesToSaveWrapper

    for qual, wrapper in model.named_modules():
        if not isinstance(wrapper, ModulesToSaveWrapper) or name not in wrapper.modules_to_save:
            continue
        head = wrapper.modules_to_save[name]
        for pname, p in list(head.named_parameters()):
            saved = weights.get(f"{qual}.{pname}")
            if saved is None or saved.shape == p.shape:
                continue
            owner_name, _, attr = pname.rpartition(".")
            owner = head.get_submodule(owner_name)
            new = torch.empty(saved.shape, dtype=p.dtype, device=p.device)
            setattr(owner, attr, torch.nn.Parameter(new, requires_grad=False))
            if isinstance(owner, torch.nn.Linear):
                owner.out_features, owner.in_features = owner.weight.shape


def task_type(task) -> str:
    return getattr(task, "peft_task_type", "SEQ_CLS")


def head_modules(task, model) -> list[str] | None:
    fn = getattr(task, "head_modules", None)
    names = fn(model) if fn is not None else None
    return list(names) if names else None
