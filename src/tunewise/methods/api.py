"""The one public API the pipeline, the Predictor, export and other tasks use.

model = apply_method(model, cfg.method, task, total_steps=n)   # before training
fit(..., method_hooks=method_hooks(model, cfg.method))          # the loop calls them
save_trained(model, dir, cfg.method)                            # adapter + head
model = load_trained(dir, load_fn, task)                        # fresh process, same logits
model = attach_trained(model, name, dir, load_fn, task)         # adapters sharing one base
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tunewise.methods.base import Method, MethodHooks, Options, get_method, parse_options
from tunewise.rundir import META_FILE


def resolve(method_cfg) -> tuple[Method, Options]:
    """(method, validated options) from a config section, a record dict, or a name."""
    if method_cfg is None:
        method_cfg = "full"
    if isinstance(method_cfg, str):
        method = get_method(method_cfg)
        return method, parse_options(method.name, {})
    if isinstance(method_cfg, dict):
        name = method_cfg.get("name", "full")
        method = get_method(name)
        if "options" in method_cfg:
            return method, method.options.model_validate(method_cfg["options"] or {})
        sections = {k: v for k, v in method_cfg.items() if k != "name"}
        return method, parse_options(name, sections)
    method = get_method(method_cfg.name)
    return method, parse_options(method.name, dict(method_cfg.model_extra or {}))


def method_record(method_cfg) -> dict:
    """What a saved model records about its method: ``{"name", "options"}``."""
    method, opts = resolve(method_cfg)
    return {"name": method.name, "options": opts.model_dump(mode="json")}


def default_lr(method_cfg, model_lr: float) -> float:
    """The method's default peak learning rate for a model whose full fine-tuning rate is
    ``model_lr`` (LoRA 30x, soft prompts 100x: they train far fewer, freshly initialised
    parameters)."""
    method, _ = resolve(method_cfg)
    return float(f"{model_lr * method.lr_factor:.3g}")


def apply_method(model, method_cfg, task, *, total_steps: int | None = None):
    """Attach the method to ``model`` (a transformers model built by the task) and return the
    model to train. ``total_steps`` is the planned number of optimizer steps (AdaLoRA's
    schedule needs it)."""
    method, opts = resolve(method_cfg)
    return method.apply(model, opts, task, total_steps)


def method_hooks(model, method_cfg) -> MethodHooks:
    """The per-step hooks the loop must call for this method (empty for most)."""
    method, opts = resolve(method_cfg)
    return method.hooks(model, opts) or MethodHooks()


def save_trained(model, path: str | Path, method_cfg) -> None:
    """Save what was trained into the existing directory ``path`` (adapter + head)."""
    method, _ = resolve(method_cfg)
    method.save(model, Path(path))


def base_model_path(meta: dict) -> str:
    """Where the base model of a saved adapter is: its name resolved again (packaged models
    move between machines), else the path recorded at training time."""
    from tunewise.models.registry import resolve_model

    name = meta.get("base_model")
    if name:
        try:
            return resolve_model(name).path
        except Exception:
            pass
    path = meta.get("base_model_path")
    if not path:
        from tunewise.errors import UserError

        raise UserError("saved adapter does not record its base model (tunewise.json)")
    return path


def load_trained(model_dir: str | Path, load_fn, task, meta: dict | None = None):
    """Load a saved model for inference: the base (via ``load_fn(path)``, which builds the
    task's model class) plus what the method saved. Returns the model in eval mode."""
    from tunewise.models.loading import quiet_transformers

    model_dir, meta, method, opts = _saved(model_dir, meta)
    with quiet_transformers():
        base = load_fn(base_model_path(meta) if method.needs_base else str(model_dir))
        return method.load(base, model_dir, opts, task).eval()


def attach_trained(
    model, name: str, model_dir: str | Path, load_fn, task, meta: dict | None = None
):
    """``load_trained`` for several adapters on one base: add the adapter saved in
    ``model_dir`` (with its own head) to ``model`` as ``name``. ``model`` is None for the first
    (the base is loaded with ``load_fn``) or what an earlier call returned; only methods that
    ``shares_base``. Returns the peft model holding every adapter so far, in eval mode."""
    from tunewise.errors import UserError
    from tunewise.models.loading import quiet_transformers

    model_dir, meta, method, opts = _saved(model_dir, meta)
    if not method.shares_base:
        raise UserError(f"{model_dir}: method {method.name} cannot share a loaded base model")
    with quiet_transformers():
        if model is None:
            model = load_fn(base_model_path(meta))
        return method.attach(model, model_dir, opts, task, name).eval()


def _saved(model_dir, meta):
    model_dir = Path(model_dir)
    if meta is None:
        meta = json.loads((model_dir / META_FILE).read_text())
    method, opts = resolve(meta.get("method") or "full")
    return model_dir, meta, method, opts


def merge_model(model, method_cfg):
    """A plain transformers model computing what ``model`` computes."""
    from tunewise.errors import UserError

    method, _ = resolve(method_cfg)
    if not method.mergeable:
        raise UserError(
            f"method {method.name} cannot be merged into plain transformers weights "
            f"(mergeable: {', '.join(n for n, m in _all().items() if m.mergeable)}); "
            "use `tunewise predict` on the run, or export without --merge"
        )
    return method.merge(model)


def merged_copy(raw, method_cfg):
    """The model to save as a plain transformers directory: the method (LoRA ...) merged into
    a copy (training goes on with the adapters), or the model itself for full fine-tuning."""
    import copy

    method, _ = resolve(method_cfg)
    if method.name == "full":
        return raw
    return merge_model(copy.deepcopy(raw), method_cfg)


def trainable_summary(model) -> dict[str, Any]:
    """Trainable and total parameter counts (each tensor counted once)."""
    seen, trainable, total = set(), 0, 0
    for p in model.parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        total += p.numel()
        if p.requires_grad:
            trainable += p.numel()
    return {
        "trainable": trainable,
        "total": total,
        "percent": round(100.0 * trainable / max(total, 1), 4),
    }


def _all():
    from tunewise.methods.base import all_methods

    return all_methods()
