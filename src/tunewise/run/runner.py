"""``tunewise.train(config)``: the one runner every task goes through.

config -> task (looked up by name) -> data read by the task -> one duplicate-grouped, seeded
split -> doctor preflight -> encode -> model with the task's head -> method -> the one loop ->
the task's evaluation -> checks every run gets -> run directory (metrics, report, tracking,
registry). Seeds (``--seeds K``), checkpoints and resume, tracking (opened and always closed)
and the run registry are done here, once, for every task.
"""

from __future__ import annotations

import time
from pathlib import Path

from tunewise.config import Config, config_to_dict, load_yaml
from tunewise.errors import UserError
from tunewise.registry import record_run
from tunewise.run.result import RunResult
from tunewise.rundir import ModelMeta, RunDir, prepare_out, read_json, write_json, write_meta


def _as_config(config) -> Config:
    if isinstance(config, Config):
        return config
    if isinstance(config, (str, Path)):
        from tunewise.config import build_config as build

        return build(load_yaml(config))
    if isinstance(config, dict):
        from tunewise.config import build_config as build

        return build(config)
    raise TypeError(f"config must be a Config, dict or YAML path, not {type(config).__name__}")


def _default_out() -> Path:
    return Path("runs") / time.strftime("%Y%m%d-%H%M%S")


def resolve_config(cfg: Config):
    """The task's defaults and checks, and the default learning rate, applied to ``cfg``;
    returns the task class."""
    from tunewise.tasks import get_task

    task_cls = get_task(cfg.task.type)
    if "name" not in cfg.method.model_fields_set and _is_packaged_decoder(cfg.model.name):
        from tunewise.config import MethodConfig

        cfg.method = MethodConfig(name="lora")  # decoders train LoRA unless told otherwise
    task_cls.configure(cfg)
    if (cfg.task.abstain or cfg.task.oos_label is not None) and not task_cls.abstains:
        raise UserError(
            f"invalid config: --abstain/--oos-label are for classification, not {task_cls.name}"
        )
    if task_cls.options is not None:
        from pydantic import ValidationError

        try:
            opts = task_cls.options.model_validate(cfg.task.options or {})
        except ValidationError as e:
            from tunewise.config import format_errors

            raise UserError(format_errors(e, "task.options.")) from None
        cfg.task.options = opts.model_dump(mode="json")
    elif cfg.task.options:
        raise UserError(f"invalid config: task.options: the {task_cls.name} task has no options")
    if cfg.train.lr is None:
        from tunewise.methods import default_lr
        from tunewise.models.registry import recommended_lr

        cfg.train.lr = task_cls.default_lr(
            cfg, default_lr(cfg.method, recommended_lr(cfg.model.name))
        )
    return task_cls


def _is_packaged_decoder(name: str) -> bool:
    from tunewise.models.registry import PACKAGED_MODELS

    return name in PACKAGED_MODELS and PACKAGED_MODELS[name].decoder


def build_config(base=None, flags=None, overrides=None) -> Config:
    """:func:`tunewise.config.build_config` with the task's defaults and checks applied: the
    config a run with these settings would save (``tunewise.build_config``)."""
    from tunewise import config as config_module

    cfg = config_module.build_config(base, flags, overrides)
    resolve_config(cfg)
    return cfg


def _resumed_config(resume) -> Config:
    """The saved config of an unfinished run, to continue it; refused with one line when
    there is nothing to resume."""
    from tunewise.config import build_config as build

    run = RunDir(resume)
    if not run.config.is_file():
        raise UserError(f"{resume}: nothing to resume (no config.yaml; not a run directory)")
    if run.status() == "completed":
        raise UserError(f"{resume}: this run already completed; nothing to resume")
    cfg = build(load_yaml(run.config))
    cfg.out = Path(resume)
    if cfg.train.seeds > 1:
        raise UserError(
            f"{resume}: a {cfg.train.seeds}-seed run; resume the unfinished seed's own "
            f"directory ({resume}/seed-N); the multi-seed summary is not rebuilt by a resume"
        )
    return cfg


def _accelerator():
    """This process's Accelerator (CPU unless a GPU is there), in a fresh accelerate state."""
    import torch
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    # cpu=True without a GPU: accelerate then recognizes torchrun/accelerate-launch CPU process
    # groups (gloo); without it every process would think it is alone and the main one.
    from tunewise.distributed import check_engine

    check_engine(torch.cuda.is_available())
    # A Trainer or Accelerator created earlier in this process (a notebook, a benchmark) leaves
    # accelerate's process-wide state set with its own precision, and a second Accelerator with
    # other settings then raises. Forget that state; the process group (PartialState) is kept.
    AcceleratorState._reset_state(reset_partial_state=False)
    return Accelerator(mixed_precision="no", cpu=not torch.cuda.is_available())


def train(
    config=None,
    *,
    resume: str | Path | None = None,
    overwrite: bool = False,
    echo=None,
    evaluate_test: bool = True,
    on_log=None,
    continuation=None,
) -> RunResult:
    """Fine-tune a model as ``config`` says and write a run directory.

    Args:
        config: a Config, a nested dict, or a YAML path. Ignored with ``resume``.
        resume: a run directory to continue from its newest checkpoint (its own config is used).
        overwrite: replace an existing run directory at ``config.out``.
        echo: called with lines of text for the user (default: silent).
        evaluate_test: False keeps the test split out of the run entirely (tuning trials):
            it is still carved from train when there is no test file, so train/dev are the same.
        on_log: called with every training-log record on the main process (e.g. to prune a
            tuning trial); an exception it raises stops the run.
        continuation: continuing an earlier run (``tunewise.continual``): an object whose
            optional methods the runner calls at fixed points: ``start(run)`` once the run
            directory exists, ``adjust(data)`` after the split (label map, extra train rows),
            ``load_model(cfg, task, tokenizer)`` instead of the pretrained model,
            ``extra_loss(model)`` (a term added to the loss, or None) and
            ``after_evaluate(fitted, metrics)`` before the run is finished.
    """
    echo = echo or (lambda line: None)
    if resume is not None:
        run, cfg = RunDir(resume), _resumed_config(resume)
    else:
        cfg = _as_config(config if config is not None else {})
        if cfg.out is None:
            cfg.out = _default_out()
        run = RunDir(cfg.out)
    task_cls = resolve_config(cfg)
    folds = task_cls.cv_folds(cfg) if resume is None else 0
    if folds > 1:
        from tunewise.run.folds import train_folds

        try:
            return train_folds(cfg, folds, overwrite, echo, train)
        finally:
            record_run(cfg.out, warn=echo)
    if resume is None and cfg.train.seeds > 1:
        from tunewise.run.seeds import train_seeds

        try:
            return train_seeds(cfg, overwrite, echo, train)
        finally:
            record_run(cfg.out, warn=echo)
    accelerator = _accelerator()
    main = accelerator.is_main_process
    if resume is None and main:
        prepare_out(run.path, overwrite)
    accelerator.wait_for_everyone()
    if main:
        run.start(config_to_dict(cfg), resume=resume is not None)
        if continuation is not None and hasattr(continuation, "start"):
            continuation.start(run)
        record_run(run.path, warn=echo)
    tracker = None
    status, error = "failed", None
    try:
        if main and cfg.track.backends:
            from tunewise.tracking import open_trackers

            tracker = open_trackers(cfg.track, run.path, config_to_dict(cfg), warn=echo)
        result = run_one(
            cfg,
            task_cls,
            run,
            accelerator,
            resume is not None,
            echo if main else (lambda l: None),
            tracker,
            evaluate_test,
            on_log if main else None,
            continuation,
        )
        status = "completed"
        return result
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    except UserError as e:
        error = str(e)
        raise
    except Exception as e:
        error = f"{type(e).__name__}: {e}"
        raise
    finally:
        # the one place a run's end is recorded, whatever ended it: status, registry, trackers
        if main:
            if status != "completed":
                run.set_status(status, **({"error": error} if error else {}))
            record_run(run.path, warn=echo)
            if tracker:
                tracker.close(status)


def split(task_cls, data, cfg, echo) -> dict:
    """Carve the missing dev/test splits from train: one duplicate-grouped, seeded split for
    every task (copies of an example never straddle train and test). Returns the split record."""
    from tunewise.data.splits import grouped_split

    files = {
        k: None if getattr(cfg.data, k) is None else str(getattr(cfg.data, k))
        for k in ("train", "dev", "test")
    }
    info: dict = {"files": files, "rows_read": {"train": len(data.train)}}
    if data.dev is None or data.test is None:
        dev_share = cfg.data.split.dev if data.dev is None else 0.0
        test_share = cfg.data.split.test if data.test is None else 0.0
        train, dev_part, test_part = grouped_split(
            data.train,
            key=task_cls.group_key,
            stratum=task_cls.stratum,
            dev=dev_share,
            test=test_share,
            seed=cfg.data.split.seed,
        )
        info["split"] = {
            "from": "train",
            "dev": dev_share if data.dev is None else None,
            "test": test_share if data.test is None else None,
            "seed": cfg.data.split.seed,
            "grouped_by": "duplicate key (copies stay in one split)",
        }
        data.train = train
        data.dev = dev_part if data.dev is None else data.dev
        data.test = test_part if data.test is None else data.test
    if not data.train:
        raise UserError(f"{cfg.data.train}: no training rows left after splitting off dev/test")
    info["rows"] = {"train": len(data.train), "dev": len(data.dev), "test": len(data.test)}
    return info


def load_data(cfg: Config, echo=None):
    """(task class, the task's examples split into train/dev/test, the split record) for
    ``cfg``: what a run trains and evaluates on, read and split the one way every task is."""
    task_cls = resolve_config(cfg)
    data = task_cls.read_data(cfg)
    info = split(task_cls, data, cfg, echo or (lambda line: None))
    return task_cls, data, info


def _checks(task, raw, run, probe, outputs: dict, state, metric, saved, has_dev: bool) -> dict:
    """The checks every run gets (each {"ok", "message", ...}), whatever its task."""
    from tunewise.evaluation import checks

    out = {}
    split_name = "test" if "test" in outputs else "dev" if "dev" in outputs else None
    if probe is not None:
        out["eval_mode"] = checks.eval_mode(raw, probe, forward=task.forward)
        out["reload_parity"] = checks.reload_parity(
            raw,
            run.model,
            probe,
            atol=task.parity_atol,
            load=task.load_saved,
            expected=saved,
            forward=task.forward,
        )
    if split_name:
        c = task.collapse_check(outputs[split_name], split_name)
        if c is not None:
            out["collapse"] = c
    if state.total_tokens:
        out["padding"] = checks.padding(state.real_tokens / state.total_tokens)
    else:  # a method that trained outside the loop (setfit's logistic head): no loop batches
        out["padding"] = {"ok": True, "message": "the training loop did not run"}
    out["overfitting"] = checks.overfitting(state.evals, metric, task.lower_is_better)
    out["selection"] = checks.selection(metric, state.best_step, has_dev)
    return out


def prepare(
    cfg: Config,
    task_cls,
    run: RunDir,
    main: bool,
    echo,
    evaluate_test: bool = True,
    continuation=None,
):
    """Read, split, check (the doctor) and encode the data; write ``labels.json`` and
    ``data.json``. Returns (task, data, enc, tokenizer, resolved model)."""
    from tunewise import methods
    from tunewise.data.splits import refuse_empty_splits
    from tunewise.models.loading import load_pretrained, load_tokenizer
    from tunewise.run.fit import data_record

    data = task_cls.read_data(cfg)
    split_info = split(task_cls, data, cfg, echo)
    if continuation is not None and hasattr(continuation, "adjust"):
        continuation.adjust(data)  # the parent's label map extended; replayed rows in train
        split_info["rows"]["train"] = len(data.train)
    resolved, tokenizer = load_pretrained(cfg.model.name, lambda p: load_tokenizer(p))
    task = task_cls.from_data(cfg, data, tokenizer)
    task.check_method(methods.resolve(cfg.method)[0])
    if cfg.doctor.enabled:
        from tunewise.doctor import preflight

        view = {k: task.doctor_view(getattr(data, k)) for k in ("train", "dev", "test")}
        preflight(cfg, view, task.doctor_checks, tokenizer, run.path if main else None, echo)
    elif not set(task.doctor_checks) & set(cfg.doctor.allow):
        task.validate(data)
    # a split asked for that came out empty would end in an empty metrics table
    shares = split_info.get("split") or {}
    refuse_empty_splits(
        cfg.data.train,
        split_info["rows_read"]["train"],
        shares.get("dev") or 0.0,
        shares.get("test") or 0.0,
        data.dev,
        data.test,
    )
    enc = {
        name: task.encode(getattr(data, name), tokenizer, cfg.model.max_length)
        if getattr(data, name)
        else None
        for name in ("train", "dev", "test")
    }
    if enc["train"] is None or len(enc["train"]) == 0:
        raise UserError(f"{cfg.data.train}: no row has a trainable token within max_length")
    if not evaluate_test:
        enc["test"] = None
    for name, e in enc.items():
        if e is not None and e.truncated:
            echo(
                f"{name}: {e.truncated} of {e.stats['rows']} rows ({e.stats['truncated_share']:.1%}) "
                f"truncated at max_length {cfg.model.max_length}"
            )
    if main:
        extra = {k: v for k, v in data.info.items() if k != "labels"} | task.data_record(data)
        write_json(run.data, data_record(split_info, resolved, enc, **extra))
    echo(
        f"task {task.name}; model {resolved.name} ({resolved.source}: {resolved.path}); "
        f"{len(data.train)} train / {len(data.dev)} dev / {len(data.test)} test rows"
        + (f"; labels: {', '.join(task.labels)}" if getattr(task, "labels", None) else "")
    )
    return task, data, enc, tokenizer, resolved


def evaluate(task, f, fitted: dict) -> dict:
    """The task's final evaluation, then the checks every run gets, seeds, method, training."""
    from tunewise import progress
    from tunewise.run.fit import training_summary

    f.echo("evaluating the best checkpoint on whole splits")
    metrics: dict = {
        "task": task.name,
        "headline": list(task.headline),
        "metric_for_best": f.metric,
        "best_step": f.state.best_step,
    }
    evaluated = task.evaluate(f)
    outputs = evaluated.pop("_outputs", {})
    task_checks = evaluated.pop("checks", {})
    training_extra = evaluated.pop("training_extra", {})
    metrics.update(evaluated)
    f.echo("checks: eval mode, reload parity, collapse, padding, overfitting")
    has_dev = f.enc["dev"] is not None and len(f.enc["dev"]) > 0
    metrics["checks"] = _checks(
        task, f.raw, f.run, fitted["probe"], outputs, f.state, f.metric, fitted["saved"], has_dev
    )
    metrics["checks"].update(task_checks)
    metrics["seeds"] = {
        "values": [f.cfg.train.seed],
        "single_seed": True,
        "note": "single seed: the spread across seeds is unknown; use --seeds K",
    }
    metrics["method"] = fitted["method"]
    metrics["training"] = training_summary(f.state, f.accelerator) | training_extra
    metrics["timings"] = progress.take_timings()  # seconds per step after training
    for name, c in metrics["checks"].items():
        if not c.get("ok", True):
            f.echo(f"warning [{name}]: {c['message']}")
    return metrics


def run_one(
    cfg: Config,
    task_cls,
    run: RunDir,
    accelerator,
    resume: bool,
    echo,
    tracker=None,
    evaluate_test: bool = True,
    on_log=None,
    continuation=None,
) -> RunResult:
    """One seed of one run, for any registered task: prepare, train, evaluate, finish."""
    import torch

    from tunewise import methods, progress
    from tunewise.run.finish import finish, log_sinks
    from tunewise.run.fit import fit_best, load_model
    from tunewise.tasks import Fitted

    main = accelerator.is_main_process
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    progress.set_sink(echo)  # the steps after training say what runs, how far, how long
    task, data, enc, tokenizer, resolved = prepare(
        cfg, task_cls, run, main, echo, evaluate_test, continuation
    )
    meta = ModelMeta(
        task=task.name,
        max_length=cfg.model.max_length,
        base_model=resolved.name,
        base_model_path=resolved.path,
        method=methods.method_record(cfg.method),
        **task.meta(),
    )
    if continuation is not None and hasattr(continuation, "load_model"):
        model = continuation.load_model(cfg, task, tokenizer)
    else:
        model = load_model(cfg, task, tokenizer)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    before_file = run.path / ".before.json"
    if resume and before_file.is_file():
        extras = read_json(before_file)
    else:
        extras = task.before_training(model, enc, data, cfg, accelerator, pad_id, tokenizer, echo)
        if continuation is not None and hasattr(continuation, "before_training"):
            extras = {**extras, **continuation.before_training(model, task, enc["train"], pad_id)}
        if main and extras:
            write_json(before_file, extras)
    train_data = task.prepare_train(enc["train"], cfg)
    model, raw, state, metric, pad_id, fitted = fit_best(
        cfg,
        run,
        accelerator,
        resume,
        echo,
        task,
        enc,
        train_data,
        tokenizer,
        meta,
        model,
        on_log=log_sinks(tracker, on_log),
        extra_loss=getattr(continuation, "extra_loss", None),
    )
    f = Fitted(
        cfg, run, accelerator, data, enc, model, raw, tokenizer, pad_id, state, metric, echo, extras
    )
    metrics = evaluate(task, f, fitted)
    if continuation is not None and hasattr(continuation, "after_evaluate"):
        continuation.after_evaluate(f, metrics)
    if main:
        # what evaluation settled (a threshold, a temperature) is saved with the model, and the
        # label map (with that threshold) once, here
        write_meta(run.model, ModelMeta(**{**meta.to_dict(), **task.meta()}))
        if task.labels_record() is not None:
            write_json(run.labels, task.labels_record())
        before_file.unlink(missing_ok=True)
        finish(run, metrics, echo, tracker)
    accelerator.wait_for_everyone()
    return RunResult(run.path, metrics, main)
