"""The steps every task's run shares: train with the one loop and keep the best checkpoint
(``fit_best``), summarize training, and finish the run directory (metrics, report, trackers,
registry)."""

from __future__ import annotations

import json
import shutil
import time

import numpy as np

from tunewise.predictor import META_FILE
from tunewise.registry import record_run
from tunewise.rundir import RunDir, replace_dir, write_json


def _train_probe(train, dev, seed: int):
    """A fixed, seeded subset of train as large as dev (at most 1,000 rows) for the overfitting gap."""
    if dev is None or len(dev) == 0:
        return None
    n = min(len(train), max(len(dev), 100), 1000)
    idx = np.sort(np.random.default_rng(seed).choice(len(train), size=n, replace=False))
    return train.subset(idx)


def _logits_now(model, batch):
    """Eval-mode logits of ``model`` on ``batch`` (the mode is restored afterwards)."""
    import torch

    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    with torch.inference_mode():
        out = model(**{k: v.to(device) for k, v in batch.items()}).logits.float().cpu()
    model.train(was_training)
    return out


def fit_best(
    cfg,
    run,
    accelerator,
    resume,
    echo,
    task,
    enc,
    tokenizer,
    meta,
    describe,
    model_cls,
    on_log=None,
):
    """Load the pretrained model with the task's head, attach the fine-tuning method, train it
    with the one loop (best dev checkpoint saved to ``run.model`` with ``meta``), and reload
    exactly what was saved.

    Returns:
        (model as prepared by accelerate, the unwrapped model, loop state, metric, pad id,
        {"method": trainable-parameter summary, "load": dir -> fresh model as saved,
        "saved": logits on the first 32 test (else dev) rows when the best model was saved}).
    """
    from transformers import set_seed

    from tunewise import methods
    from tunewise.models.loading import load_pretrained, quiet_transformers
    from tunewise.training.loop import fit, planned_steps

    main = accelerator.is_main_process
    set_seed(cfg.train.seed)
    resolved, model = load_pretrained(
        cfg.model.name, model_cls.from_pretrained, **task.model_kwargs()
    )
    from tunewise.models.decoder import ensure_pad_token

    ensure_pad_token(tokenizer, model)  # decoders (Llama ...) as classifiers need a pad token
    total_steps, _ = planned_steps(enc["train"], cfg.train, accelerator.num_processes)
    model = methods.apply_method(model, cfg.method, task, total_steps=total_steps)
    hooks = methods.method_hooks(model, cfg.method)
    method_info = {**methods.method_record(cfg.method), **methods.trainable_summary(model)}
    echo(
        f"method {method_info['name']}: {method_info['trainable']:,} of {method_info['total']:,} "
        f"parameters trainable ({method_info['percent']:.2f}%), lr {cfg.train.lr:g}"
    )
    meta["base_model_path"] = resolved.path
    meta["method"] = methods.method_record(cfg.method)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

    def load_base(path):
        return model_cls.from_pretrained(path, **task.model_kwargs())

    def load_saved(path):
        return methods.load_trained(path, load_base, task)

    # logits of the model as it was saved, on the rows the reload-parity check uses later
    probe_enc = enc["test"] if enc["test"] is not None else enc["dev"]
    probe = None
    if probe_enc is not None and len(probe_enc):
        probe = task.collate(probe_enc, list(range(min(32, len(probe_enc)))), pad_id)
        probe.pop("labels", None)
    saved_logits: dict = {}

    def save_model(raw_model) -> None:
        if probe is not None:
            saved_logits["probe"] = _logits_now(raw_model, probe)
        tmp = run.path / ".model.tmp"
        if tmp.exists():
            shutil.rmtree(tmp)
        with quiet_transformers():
            tmp.mkdir(parents=True)
            methods.save_trained(raw_model, tmp, cfg.method)
            tokenizer.save_pretrained(tmp)
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2))
        replace_dir(tmp, run.model)

    metric = cfg.train.metric if cfg.train.metric != "auto" else task.default_metric()
    log_f = open(run.log, "a", encoding="utf-8") if main else None

    def log(rec: dict) -> None:
        if log_f:
            log_f.write(json.dumps(rec) + "\n")
            log_f.flush()
        if on_log:
            on_log(rec)

    echo(describe)
    try:
        state = fit(
            model=model,
            task=task,
            train=enc["train"],
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
        )
    finally:
        if log_f:
            log_f.close()

    # Final evaluation with the best dev checkpoint, in fp32, over whole splits.
    accelerator.wait_for_everyone()
    raw = accelerator.unwrap_model(model)
    if methods.resolve(cfg.method)[0].needs_base:
        # evaluate exactly what was saved: the base model plus the saved adapter and head
        raw = methods.load_trained(run.model, load_base, task, meta).to(accelerator.device)
        model = raw
    else:
        from safetensors.torch import load_model

        load_model(raw, str(run.model / "model.safetensors"))
    fitted = {"method": method_info, "load": load_saved, "saved": saved_logits.get("probe")}
    return model, raw, state, metric, pad_id, fitted


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
    }


def finish(run: RunDir, metrics: dict, echo, tracker=None) -> None:
    """Write metrics.json, drop the checkpoints, mark the run completed, write the report, hand
    the final figures to the trackers and record the run in the registry."""
    write_json(run.metrics, metrics)
    shutil.rmtree(run.checkpoints, ignore_errors=True)
    from tunewise.integrity import write_manifest

    write_manifest(run.model)  # sizes and hashes: loading names a damaged file
    run.set_status("completed", finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    from tunewise.evaluation.report import write_report

    html, md = write_report(run.path)
    echo(f"report: {html}")
    if tracker:
        from tunewise.registry.store import summary_metrics

        tracker.final(summary_metrics(metrics), [html, md], run.model)
        tracker.close("completed")
    record_run(run.path, warn=echo)


def log_sinks(tracker, on_log):
    """One callable that hands a training-log record to the trackers and to ``on_log``."""
    if not tracker and not on_log:
        return None

    def sink(rec: dict) -> None:
        if tracker:
            tracker.step(rec)
        if on_log:
            on_log(rec)

    return sink
