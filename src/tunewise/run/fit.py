"""Training with the one loop, for every task: load the pretrained model with the task's head,
attach the method, train (the best dev checkpoint saved to ``RUN/model``), reload exactly what
was saved; and the ``training`` and ``data.json`` records every run writes."""

from __future__ import annotations

import json
import shutil

import numpy as np

from tunewise.rundir import ModelMeta, replace_dir, write_meta


def _train_probe(train, dev, seed: int):
    """A fixed, seeded subset of train as large as dev (at most 1,000 rows) for the overfitting gap."""
    if dev is None or len(dev) == 0:
        return None
    n = min(len(train), max(len(dev), 100), 1000)
    idx = np.sort(np.random.default_rng(seed).choice(len(train), size=n, replace=False))
    return train.subset(idx)


def _outputs_now(task, model, batch):
    """Eval-mode outputs of ``model`` on ``batch`` (the mode is restored afterwards)."""
    import torch

    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    with torch.inference_mode():
        out = task.forward(model, {k: v.to(device) for k, v in batch.items()}).float().cpu()
    model.train(was_training)
    return out


def probe_batch(task, enc: dict, pad_id: int):
    """The first 32 rows of test (else dev), collated without labels: the rows the eval-mode
    and reload-parity checks run on."""
    probe_enc = enc.get("test") if enc.get("test") is not None else enc.get("dev")
    if probe_enc is None or not len(probe_enc):
        return None
    batch = task.collate(probe_enc, list(range(min(32, len(probe_enc)))), pad_id)
    batch.pop("labels", None)
    return batch


def load_model(cfg, task, tokenizer):
    """The pretrained model with the task's head, ready for the method (pad token set)."""
    from transformers import set_seed

    from tunewise.models.decoder import ensure_pad_token
    from tunewise.models.loading import load_pretrained

    set_seed(cfg.train.seed)
    _, model = load_pretrained(
        cfg.model.name, task.auto_model().from_pretrained, **task.model_kwargs()
    )
    ensure_pad_token(tokenizer, model)  # decoders (Llama ...) as classifiers need a pad token
    task.prepare_model(model)
    return model


def fit_best(
    cfg,
    run,
    accelerator,
    resume,
    echo,
    task,
    enc,
    train_data,
    tokenizer,
    meta: ModelMeta,
    model,
    on_log=None,
    extra_loss=None,
):
    """Attach the fine-tuning method to ``model``, train it with the one loop (best dev
    checkpoint saved to ``run.model`` with ``meta``), and reload exactly what was saved.

    Returns:
        (model as prepared by accelerate, the unwrapped model, loop state, metric, pad id,
        {"method": trainable-parameter summary, "saved": outputs on the probe rows when the best
        model was saved}).
    """
    from tunewise import methods
    from tunewise.models import attention
    from tunewise.models.loading import quiet_transformers
    from tunewise.training.loop import fit, planned_steps

    main = accelerator.is_main_process
    total_steps, _ = planned_steps(train_data, cfg.train, accelerator.num_processes)
    if cfg.train.dropout is not None:  # before the method: its own dropout layers are its own
        n = set_dropout(model, cfg.train.dropout)
        echo(f"dropout {cfg.train.dropout:g} in {n} layers (train.dropout)")
    model = methods.apply_method(model, cfg.method, task, total_steps=total_steps)
    hooks = methods.method_hooks(model, cfg.method)
    if cfg.train.first_position_only and task.reads_first_position:
        from tunewise.models.head_positions import first_position_only

        if first_position_only(model):
            echo("last layer computes the [CLS] position only (train.first_position_only)")
    if cfg.train.freeze_embeddings:
        emb = model.get_input_embeddings()
        emb.weight.requires_grad_(False)
        echo(f"word embeddings frozen ({emb.weight.numel():,} parameters; train.freeze_embeddings)")
    if cfg.train.compile:
        # in place (state_dict keys unchanged); dynamic: batches of every length share one graph
        model.compile(backend=cfg.train.compile_backend, dynamic=True)
        echo(f"forward compiled with torch.compile ({cfg.train.compile_backend})")
    # after freezing: the EWC penalty holds only the weights that train
    if extra_loss is not None and (term := extra_loss(model)) is not None:
        hooks = _with_extra_loss(hooks, term)
    method_info = {**methods.method_record(cfg.method), **methods.trainable_summary(model)}
    echo(
        f"method {method_info['name']}: {method_info['trainable']:,} of {method_info['total']:,} "
        f"parameters trainable ({method_info['percent']:.2f}%), lr {cfg.train.lr:g}"
    )
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    probe = probe_batch(task, enc, pad_id)
    saved_outputs: dict = {}

    def save_model(raw_model) -> None:
        if probe is not None:
            saved_outputs["probe"] = _outputs_now(task, raw_model, probe)
        tmp = run.path / ".model.tmp"
        if tmp.exists():
            shutil.rmtree(tmp)
        with quiet_transformers():
            tmp.mkdir(parents=True)
            task.save_model(raw_model, tmp, cfg.method, tokenizer)
        write_meta(tmp, meta)
        replace_dir(tmp, run.model)

    metric = cfg.train.metric if cfg.train.metric != "auto" else task.default_metric()
    log_f = open(run.log, "a", encoding="utf-8") if main else None

    def log(rec: dict) -> None:
        if log_f:
            log_f.write(json.dumps(rec) + "\n")
            log_f.flush()
        if on_log:
            on_log(rec)

    method, opts = methods.resolve(cfg.method)
    before = method.prefit(model, opts, task, train_data, pad_id, cfg.train, echo)
    if before:
        method_info["before_loop"] = before
    try:
        if before and not any(p.requires_grad for p in model.parameters()):
            state = _without_loop(model, before, save_model, accelerator)
        else:
            state = fit(
                model=model,
                task=task,
                train=train_data,
                dev=enc["dev"],
                cfg=cfg.train,
                accelerator=accelerator,
                pad_id=pad_id,
                metric=metric,
                checkpoint_dir=run.checkpoints,
                resume=resume,
                train_probe=_train_probe(enc["train"], enc["dev"], cfg.train.seed),
                on_best=save_model,
                log=log,
                echo=echo,
                method_hooks=hooks,
                attention=attention,
            )
    finally:
        if log_f:
            log_f.close()

    # Final evaluation with the best dev checkpoint, in fp32, over whole splits.
    accelerator.wait_for_everyone()
    raw = accelerator.unwrap_model(model)
    if task.reloads_saved(methods.resolve(cfg.method)[0]):
        # evaluate exactly what was saved: the base model plus the saved adapter and head (or
        # the merged model a task saves)
        raw = task.load_saved(run.model, meta.to_dict()).to(accelerator.device)
        model = raw
    else:
        from safetensors.torch import load_model as load_weights

        load_weights(raw, str(run.model / "model.safetensors"))
    fitted = {"method": method_info, "saved": saved_outputs.get("probe"), "probe": probe}
    return model, raw, state, metric, pad_id, fitted


def set_dropout(model, p: float) -> int:
    """Set every ``nn.Dropout`` of ``model`` to probability ``p`` (the modules only: the saved
    config keeps the model's values); returns how many were set."""
    import torch

    n = 0
    for m in model.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = float(p)
            n += 1
    return n


def _with_extra_loss(hooks, term):
    """``hooks`` with ``term()`` added to the method's own extra loss (a continual run's EWC
    penalty beside AdaLoRA's orthogonality term)."""
    from dataclasses import replace

    own = hooks.extra_loss
    return replace(hooks, extra_loss=term if own is None else (lambda: own() + term()))


def _without_loop(model, before: dict, save_model, accelerator):
    """The loop state of a method that trained outside the loop (``prefit``) and left nothing
    for it: no steps, no dev evaluations; the model as trained is saved once."""
    from tunewise.training.loop import LoopState

    state = LoopState(
        examples=int(before.get("examples", 0)), train_seconds=float(before.get("seconds", 0.0))
    )
    if accelerator.is_main_process:
        save_model(model)
    accelerator.wait_for_everyone()
    return state


def data_record(info: dict, resolved, enc: dict, **extra) -> dict:
    """What ``data.json`` holds: the splits' record, the model it was tokenized for, anything
    the task adds, and each split's token statistics."""
    return {
        **info,
        "model": {"name": resolved.name, "path": resolved.path, "source": resolved.source},
        **extra,
        "tokens": {k: e.stats for k, e in enc.items() if e is not None},
    }


def training_summary(state, accelerator) -> dict:
    """The ``training`` section of metrics.json."""
    return {
        "steps": state.step,
        "epochs": state.epochs_done,
        "stopped_early": state.stopped_early,
        "train_seconds": round(state.train_seconds, 2),
        "examples_per_s": round(state.examples / max(state.train_seconds, 1e-9), 2),
        "real_tokens_per_s": round(state.real_tokens / max(state.train_seconds, 1e-9), 1),
        "real_token_share": round(state.real_tokens / max(state.total_tokens, 1), 4),
        "processes": accelerator.num_processes,
        "bf16": state.bf16,
        "attention": state.attention,
    }
