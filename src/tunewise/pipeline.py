"""``tunewise.train(config)``: data -> task -> model -> loop -> evaluation -> run directory."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from tunewise.config import Config, build_config, config_to_dict, load_yaml
from tunewise.errors import UserError
from tunewise.predictor import META_FILE
from tunewise.registry import record_run
from tunewise.run_steps import data_record, finish, fit_best, log_sinks, training_summary
from tunewise.rundir import RunDir, prepare_out, write_json

TOKENS_LR_FACTOR = 3.0
"""Token classification's default lr for full fine-tuning: this times the model's rate."""


@dataclass
class RunResult:
    """What ``train`` returns: where the run is and its final metrics."""

    path: Path
    metrics: dict
    main: bool = True
    """False in the non-main processes of a distributed run (they print nothing)."""


def _checks(
    cfg, task, model, run, enc, logits, state, metric, threshold, pad_id, load, saved=None
) -> dict:
    """The checks after training, each {"ok", "message", ...}."""
    from tunewise.evaluation import checks

    out = {}
    probe_split = "test" if "test" in logits else "dev" if "dev" in logits else None
    if probe_split:
        idx = list(range(min(32, len(enc[probe_split]))))
        batch = task.collate(enc[probe_split], idx, pad_id)
        batch.pop("labels", None)
        out["eval_mode"] = checks.eval_mode(model, batch)
        out["reload_parity"] = checks.reload_parity(
            model, run.model, batch, load=load, expected=saved
        )
        out["collapse"] = checks.collapse(
            task.predict(logits[probe_split], threshold), task.labels, enc[probe_split].labels
        )
    real_share = state.real_tokens / max(state.total_tokens, 1)
    out["padding"] = checks.padding(real_share)
    out["overfitting"] = checks.overfitting(state.evals, metric)
    out["selection"] = checks.selection(metric, state.best_step, "dev" in logits)
    return out


def write_predictions(path: Path, examples, encoded, logits, task, threshold: float) -> None:
    """One JSON line per row of a split, in file order: gold, prediction, logits.

    Later stages (compare, calibration, the report) read these instead of re-running the model.
    """
    from tunewise.rundir import atomic_write

    pred = task.predict(logits, threshold)
    lines = []
    for i, ex in enumerate(examples):
        gold = encoded.labels[i]
        rec = {
            "row": i,
            "where": ex.where,
            "gold": gold.tolist() if task.multi_label else int(gold),
            "pred": pred[i].tolist() if task.multi_label else int(pred[i]),
            "logits": [round(float(x), 6) for x in logits[i]],
        }
        lines.append(json.dumps(rec))
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, "\n".join(lines) + "\n")


def _as_config(config) -> Config:
    if isinstance(config, Config):
        return config
    if isinstance(config, (str, Path)):
        return build_config(load_yaml(config))
    if isinstance(config, dict):
        return build_config(config)
    raise TypeError(f"config must be a Config, dict or YAML path, not {type(config).__name__}")


def _default_out() -> Path:
    return Path("runs") / time.strftime("%Y%m%d-%H%M%S")


def train(
    config=None,
    *,
    resume: str | Path | None = None,
    overwrite: bool = False,
    echo=None,
    evaluate_test: bool = True,
    on_log=None,
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
    """
    from accelerate import Accelerator

    echo = echo or (lambda line: None)
    if resume is not None:
        run = RunDir(resume)
        if not run.config.is_file():
            raise UserError(f"{resume}: nothing to resume (no config.yaml; not a run directory)")
        if run.status() == "completed":
            raise UserError(f"{resume}: this run already completed; nothing to resume")
        cfg = build_config(load_yaml(run.config))
        cfg.out = Path(resume)
        if cfg.train.seeds > 1:
            raise UserError(
                f"{resume}: a {cfg.train.seeds}-seed run; resume the unfinished seed's own "
                f"directory ({resume}/seed-N); the multi-seed summary is not rebuilt by a resume"
            )
    else:
        cfg = _as_config(config if config is not None else {})
        if cfg.out is None:
            cfg.out = _default_out()
        run = RunDir(cfg.out)
    if cfg.train.lr is None:
        from tunewise.methods import default_lr
        from tunewise.models.registry import recommended_lr

        cfg.train.lr = default_lr(cfg.method, recommended_lr(cfg.model.name))
        if cfg.task.type == "tokens" and cfg.method.name == "full":
            # a fresh per-token head on O-dominated tags: at the sentence-task rate minilm still
            # tagged everything O after an epoch of 2,900 WNUT-17 sentences (dev F1 0.04);
            # 3x (with batch 16) reached dev F1 0.42 after the same epoch
            cfg.train.lr *= TOKENS_LR_FACTOR
    if resume is None and cfg.train.seeds > 1:
        from tunewise.seeds import train_seeds

        try:
            return train_seeds(cfg, overwrite, echo, train)
        finally:
            record_run(cfg.out, warn=echo)
    import torch

    # cpu=True without a GPU: accelerate then recognizes torchrun/accelerate-launch CPU process
    # groups (gloo); without it every process would think it is alone and the main one.
    from tunewise.distributed import check_engine

    check_engine(torch.cuda.is_available())
    from accelerate.state import AcceleratorState

    # A Trainer or Accelerator created earlier in this process (a notebook, a benchmark) leaves
    # accelerate's process-wide state set with its own precision, and a second Accelerator with
    # other settings then raises. Forget that state; the process group (PartialState) is kept.
    AcceleratorState._reset_state(reset_partial_state=False)
    accelerator = Accelerator(mixed_precision="no", cpu=not torch.cuda.is_available())
    main = accelerator.is_main_process
    if resume is None and main:
        prepare_out(run.path, overwrite)
    accelerator.wait_for_everyone()
    if main:
        run.start(config_to_dict(cfg), resume=resume is not None)
        record_run(run.path, warn=echo)
    tracker = None
    try:
        if main and cfg.track.backends:
            from tunewise.tracking import open_trackers

            tracker = open_trackers(cfg.track, run.path, config_to_dict(cfg), warn=echo)
        result = _train(
            cfg,
            run,
            accelerator,
            resume is not None,
            echo if main else (lambda l: None),
            tracker,
            evaluate_test,
            on_log if main else None,
        )
    except KeyboardInterrupt:
        if main:
            run.set_status("interrupted")
            record_run(run.path, warn=echo)
            if tracker:
                tracker.close("interrupted")
        raise
    except UserError as e:
        if main:
            run.set_status("failed", error=str(e))
            record_run(run.path, warn=echo)
            if tracker:
                tracker.close("failed")
        raise
    except Exception as e:
        if main:
            run.set_status("failed", error=f"{type(e).__name__}: {e}")
            record_run(run.path, warn=echo)
            if tracker:
                tracker.close("failed")
        raise
    return result


def _train(
    cfg: Config,
    run: RunDir,
    accelerator,
    resume: bool,
    echo,
    tracker=None,
    evaluate_test: bool = True,
    on_log=None,
) -> RunResult:
    if cfg.task.type == "tokens":
        from tunewise.token_pipeline import train_tokens

        return train_tokens(cfg, run, accelerator, resume, echo, tracker, evaluate_test, on_log)
    if cfg.task.type == "sft":
        from tunewise.sft_pipeline import train_sft

        result = RunResult(*train_sft(cfg, run, accelerator, resume, echo))
        if result.main:
            record_run(run.path, warn=echo)
        return result
    import torch
    from transformers import AutoModelForSequenceClassification

    from tunewise import progress
    from tunewise.data import load_splits
    from tunewise.data.saved import save_split
    from tunewise.evaluation.calibration import apply_temperature
    from tunewise.evaluation.checks import compare_to_baselines, tfidf_baseline
    from tunewise.evaluation.honest import add_intervals, calibration, find_label_issues
    from tunewise.evaluation.metrics import majority_baseline
    from tunewise.models.loading import load_pretrained, load_tokenizer
    from tunewise.tasks.classification import ClassificationTask, class_weight_tensor
    from tunewise.training.loop import predict_logits

    main = accelerator.is_main_process
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    progress.set_sink(echo)  # the steps after training say what runs, how far, how long
    splits = load_splits(cfg.data, multi_label=cfg.task.multi_label)
    task = ClassificationTask(splits.labels, cfg.task.multi_label)
    resolved, tokenizer = load_pretrained(cfg.model.name, lambda p: load_tokenizer(p))
    if cfg.doctor.enabled:
        from tunewise.doctor import preflight

        preflight(cfg, splits, tokenizer, run.path if main else None, echo)
    enc = {
        name: task.encode(exs, tokenizer, cfg.model.max_length) if exs else None
        for name, exs in (("train", splits.train), ("dev", splits.dev), ("test", splits.test))
    }
    if not evaluate_test:
        enc["test"] = None
    task._class_weights = class_weight_tensor(
        cfg.task.class_weights, task.labels, enc["train"].labels, task.multi_label
    )
    for name, e in enc.items():
        if e is not None and e.truncated:
            echo(
                f"{name}: {e.truncated} of {len(e)} examples ({e.stats['truncated_share']:.1%}) "
                f"truncated at max_length {cfg.model.max_length}"
            )
    if main:
        write_json(run.labels, {"labels": task.labels, "multi_label": task.multi_label})
        write_json(run.data, data_record(splits.info, resolved, enc))
        save_split(run.path, "dev", splits.dev)  # probes (int8 export) stay off test
    meta = {
        "labels": task.labels,
        "multi_label": task.multi_label,
        "threshold": 0.5,
        "max_length": cfg.model.max_length,
        "base_model": resolved.name,
        "task": task.name,
    }
    describe = (
        f"model {resolved.name} ({resolved.source}: {resolved.path}); "
        f"{len(splits.train)} train / {len(splits.dev)} dev / {len(splits.test)} test rows; "
        f"labels: {', '.join(task.labels)}"
    )
    model, raw, state, metric, pad_id, fitted = fit_best(
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
        AutoModelForSequenceClassification,
        on_log=log_sinks(tracker, on_log),
    )
    metrics: dict = {"metric_for_best": metric, "best_step": state.best_step}
    threshold = 0.5
    logits_by_split = {}
    if enc["dev"] is not None:
        dev_logits = predict_logits(
            model, task, enc["dev"], cfg.train.batch_size * 2, accelerator, pad_id
        )
        if task.multi_label:
            threshold = task.tune_threshold(dev_logits, enc["dev"].labels)
            metrics["threshold"] = threshold
        metrics["dev"] = task.metrics(dev_logits, enc["dev"].labels, threshold)
        logits_by_split["dev"] = dev_logits
    if enc["test"] is not None:
        test_logits = predict_logits(
            model, task, enc["test"], cfg.train.batch_size * 2, accelerator, pad_id
        )
        metrics["test"] = task.metrics(test_logits, enc["test"].labels, threshold)
        logits_by_split["test"] = test_logits
        metrics["baselines"] = {
            "majority": majority_baseline(
                enc["train"].labels, enc["test"].labels, task.labels, task.multi_label
            )
        }
        tfidf = tfidf_baseline(splits.train, splits.dev, splits.test, task.labels, task.multi_label)
        if tfidf is not None:
            metrics["baselines"]["tfidf_logreg"] = tfidf
    metrics["checks"] = _checks(
        cfg,
        task,
        raw,
        run,
        enc,
        logits_by_split,
        state,
        metric,
        threshold,
        pad_id,
        fitted["load"],
        fitted["saved"],
    )
    for name, c in metrics["checks"].items():
        if not c["ok"]:
            echo(f"warning [{name}]: {c['message']}")
    if "test" in metrics:
        add_intervals(metrics["test"], task, enc["test"].labels, logits_by_split["test"], threshold)
        if "dev" in logits_by_split:
            metrics["calibration"] = calibration(
                task,
                enc["dev"].labels,
                logits_by_split["dev"],
                enc["test"].labels,
                logits_by_split["test"],
            )
            # applied by default where it lowers dev NLL; --no-calibrate turns it off
            t = apply_temperature(metrics["calibration"], cfg.task.calibrate)
            if t is not None:
                meta["temperature"] = t
    if main:
        metrics["checks"]["label_issues"] = find_label_issues(
            raw, task, enc["train"], splits.train, pad_id, run.path / "label_issues.jsonl"
        )
    metrics["seeds"] = {
        "values": [cfg.train.seed],
        "single_seed": True,
        "note": "single seed: the spread across seeds is unknown; use --seeds K",
    }
    if "test" in metrics:
        metrics["checks"]["baselines"] = compare_to_baselines(metrics["test"], metrics["baselines"])
        if not metrics["checks"]["baselines"]["ok"]:
            echo(f"warning [baselines]: {metrics['checks']['baselines']['message']}")
    metrics["method"] = fitted["method"]
    metrics["training"] = training_summary(state, accelerator)
    metrics["timings"] = progress.take_timings()  # seconds per step after training
    if main:
        meta["threshold"] = threshold
        (run.model / META_FILE).write_text(json.dumps(meta, indent=2))
        write_json(
            run.labels,
            {"labels": task.labels, "multi_label": task.multi_label, "threshold": threshold},
        )
        for name, logits in logits_by_split.items():
            write_predictions(
                run.predictions / f"{name}.jsonl",
                getattr(splits, name),
                enc[name],
                logits,
                task,
                threshold,
            )
        finish(run, metrics, echo, tracker)
    accelerator.wait_for_everyone()
    return RunResult(run.path, metrics, main)
