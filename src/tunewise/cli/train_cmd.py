"""`tunewise train`: fine-tune from flags, a YAML config and dotted overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

Opt = typer.Option


def train(
    overrides: Annotated[
        list[str] | None,
        typer.Argument(help="Dotted overrides, e.g. train.lr=3e-5", show_default=False),
    ] = None,
    config: Annotated[Path | None, Opt("--config", "-c", help="YAML config file")] = None,
    model: Annotated[
        str | None, Opt(help="Packaged name (see `tunewise models`), local dir or hub id")
    ] = None,
    train_file: Annotated[
        Path | None,
        Opt("--train", help="Training data (CSV, TSV, JSONL, Parquet; CoNLL for tokens)"),
    ] = None,
    dev: Annotated[Path | None, Opt(help="Dev data; split from train when absent")] = None,
    test: Annotated[Path | None, Opt(help="Test data; split from train when absent")] = None,
    corpus: Annotated[
        Path | None, Opt(help="Retrieval: passages to retrieve from (CSV/TSV/JSONL/Parquet)")
    ] = None,
    cv_groups: Annotated[
        int | None,
        Opt(
            "--cv-groups",
            help="Retrieval: K-fold cross-validation grouped by passage over --train "
            "(task.options.cv_folds)",
        ),
    ] = None,
    text_column: Annotated[str | None, Opt(help="Column with the text [text]")] = None,
    text_pair_column: Annotated[
        str | None, Opt(help="Column with the second text of a pair")
    ] = None,
    label_column: Annotated[str | None, Opt(help="Column with the label [label]")] = None,
    quoting: Annotated[
        str | None, Opt(help="CSV/TSV quotes: auto (TSV read as is), none or csv [auto]")
    ] = None,
    multi_label: Annotated[
        bool | None, Opt("--multi-label/--single-label", help="Several labels per example")
    ] = None,
    class_weights: Annotated[str | None, Opt(help="none or balanced")] = None,
    label_issues: Annotated[
        bool | None,
        Opt(
            "--label-issues/--no-label-issues",
            help="List train rows whose label looks wrong (5-fold CV on embeddings) [on]",
        ),
    ] = None,
    calibrate: Annotated[
        bool | None,
        Opt(
            "--calibrate/--no-calibrate",
            help="Dev-fitted temperature on scores [on where it helps]",
        ),
    ] = None,
    abstain: Annotated[
        bool | None,
        Opt(
            "--abstain/--no-abstain",
            help="Classification: abstain on out-of-scope inputs (threshold chosen on dev)",
        ),
    ] = None,
    oos_label: Annotated[
        str | None, Opt(help="Label of out-of-scope rows in dev/test (or train); implies --abstain")
    ] = None,
    abstain_target: Annotated[
        str | None,
        Opt(help="Dev target of the abstention threshold [in_scope_recall=0.95]"),
    ] = None,
    abstain_score: Annotated[
        str | None, Opt(help="Out-of-scope score: auto, msp, energy or knn [auto]")
    ] = None,
    method: Annotated[
        str | None,
        Opt(help="Fine-tuning method (see `tunewise methods`) [full]; options as --lora.r 8"),
    ] = None,
    task: Annotated[
        str | None,
        Opt(
            "--task",
            help="A registered task: classification [default], tokens (NER: a tag per word), "
            "sft (decoders), regression (a number per text); see `tunewise tasks`",
        ),
    ] = None,
    tag_column: Annotated[
        int | None, Opt(help="tokens, CoNLL files: column of the tag, 0-based [-1 = last]")
    ] = None,
    tag_scheme: Annotated[
        str | None, Opt(help="tokens: IO, BIO, IOB1, BIOES or BMES [auto: detect per file]")
    ] = None,
    token_format: Annotated[
        str | None, Opt(help="tokens: conll, chars or jsonl [auto: by extension/content]")
    ] = None,
    epochs: Annotated[float | None, Opt(help="Epochs [3]")] = None,
    max_steps: Annotated[int | None, Opt(help="Stop after this many optimizer steps")] = None,
    batch_size: Annotated[
        int | None, Opt(help="Batch size per process [32]; global = this x processes x grad_accum")
    ] = None,
    grad_accum: Annotated[int | None, Opt(help="Gradient accumulation steps [1]")] = None,
    lr: Annotated[
        float | None,
        Opt(help="Peak learning rate [model's full fine-tuning rate x the method's factor]"),
    ] = None,
    max_length: Annotated[int | None, Opt(help="Truncate inputs to this many tokens [128]")] = None,
    seed: Annotated[int | None, Opt(help="Seed [42]")] = None,
    shots: Annotated[
        int | None, Opt(help="Few labels: train on K examples per class drawn from train")
    ] = None,
    draws: Annotated[
        int | None, Opt(help="With --shots: repeat over N draws; mean, std, 95% interval [1]")
    ] = None,
    seeds: Annotated[
        int | None, Opt(help="Train K seeds (seed, seed+1, ...); report mean and std [1]")
    ] = None,
    bf16: Annotated[
        bool | None, Opt("--bf16/--no-bf16", help="bf16 autocast [auto: on where bf16 is fast]")
    ] = None,
    eval_every: Annotated[
        int | None, Opt(help="Evaluate on dev every N steps [each epoch]")
    ] = None,
    early_stopping: Annotated[int | None, Opt(help="Patience in evaluations [off]")] = None,
    allow: Annotated[
        list[str] | None,
        Opt("--allow", help="Let this doctor error through (repeatable), e.g. same_splits"),
    ] = None,
    doctor: Annotated[
        bool | None, Opt("--doctor/--no-doctor", help="Run the data checks first [on]")
    ] = None,
    track: Annotated[
        str | None, Opt(help="Experiment trackers, comma-separated: tensorboard,mlflow,wandb")
    ] = None,
    out: Annotated[Path | None, Opt(help="Run directory [runs/<timestamp>]")] = None,
    overwrite: Annotated[bool, Opt(help="Replace an existing run directory at --out")] = False,
    resume: Annotated[Path | None, Opt(help="Continue an interrupted run directory")] = None,
    continue_from: Annotated[
        Path | None,
        Opt(help="Continue a finished run on new data (its model, label map and lineage)"),
    ] = None,
    strategy: Annotated[
        str | None,
        Opt(help="With --continue-from: naive, replay, ewc, lora-per-task or joint [naive]"),
    ] = None,
    replay: Annotated[
        str | None,
        Opt(help="--strategy replay: memory size, rows (200) or share of earlier rows (2%) [20%]"),
    ] = None,
    replay_mix: Annotated[
        float | None,
        Opt(help="--strategy replay: share of each epoch's rows from the memory, repeated [0.5]"),
    ] = None,
    ewc_lambda: Annotated[
        float | None, Opt(help="--strategy ewc: weight of the EWC penalty [1.0]")
    ] = None,
) -> None:
    """Fine-tune a pretrained model (classification, token tagging (NER), or sft for decoders)
    and evaluate it."""
    import sys

    from tunewise.config import build_config, load_yaml
    from tunewise.distributed import accelerate_cpu_request, relaunch

    n_proc = accelerate_cpu_request()
    if n_proc:
        relaunch(n_proc, sys.argv[1:])

    flags = {
        "model.name": model,
        "model.max_length": max_length,
        "data.train": train_file,
        "data.dev": dev,
        "data.test": test,
        "data.corpus": corpus,
        "data.text_column": text_column,
        "data.text_pair_column": text_pair_column,
        "data.label_column": label_column,
        "data.quoting": quoting,
        "task.multi_label": multi_label,
        "task.class_weights": class_weights,
        "task.calibrate": calibrate,
        "task.label_issues": label_issues,
        "task.abstain": True if oos_label is not None and abstain is None else abstain,
        "task.oos_label": oos_label,
        "task.abstain_target": abstain_target,
        "task.abstain_score": abstain_score,
        "method.name": method,
        "task.type": task,
        "task.options.cv_folds": cv_groups,
        "data.tag_column": tag_column,
        "data.tag_scheme": tag_scheme,
        "data.token_format": token_format,
        "train.epochs": epochs,
        "train.max_steps": max_steps,
        "train.batch_size": batch_size,
        "train.grad_accum": grad_accum,
        "train.lr": lr,
        "train.seed": seed,
        "fewshot.shots": shots,
        "fewshot.draws": draws,
        "train.seeds": seeds,
        "train.bf16": bf16,
        "train.eval_every": eval_every,
        "train.early_stopping_patience": early_stopping,
        "doctor.allow": allow or None,
        "doctor.enabled": doctor,
        "track.backends": [t.strip() for t in track.split(",") if t.strip()] if track else None,
        "out": out,
    }
    if continue_from is None and (
        strategy or replay or ewc_lambda is not None or replay_mix is not None
    ):
        from tunewise.errors import UserError

        raise UserError(
            "--strategy, --replay, --replay-mix and --ewc-lambda need --continue-from RUN"
        )
    if resume is not None:
        from tunewise.cli.paths import refuse_resume_flags

        if continue_from is not None:
            from tunewise.errors import UserError

            raise UserError("--resume continues an interrupted run; leave --continue-from out")
        refuse_resume_flags(resume, flags, config, overrides, overwrite)
        from tunewise.continual import resume_continued

        result = resume_continued(resume, echo=_echo)
        if result is not None:
            if result.main:
                print_run(result)
            return
    else:
        base = load_yaml(config) if config else {}
        cfg = build_config(
            base, {k: (str(v) if isinstance(v, Path) else v) for k, v in flags.items()}, overrides
        )
    if continue_from is not None:
        from tunewise.continual import continue_train

        result = continue_train(
            cfg,
            continue_from,
            strategy or "naive",
            replay,
            ewc_lambda,
            overwrite,
            _echo,
            replay_mix,
        )
        if result.main:
            print_run(result)
        return
    from tunewise.fewshot import uses_fewshot

    if resume is None and uses_fewshot(cfg):
        from tunewise.fewshot import train_fewshot

        print_fewshot(train_fewshot(cfg, overwrite=overwrite, echo=_echo))
        return
    from tunewise.run.runner import train as run_train

    result = run_train(None if resume else cfg, resume=resume, overwrite=overwrite, echo=_echo)
    if not result.main:
        return
    print_run(result)


def print_fewshot(result) -> None:
    """A few-shot run's figures across draws (or its one run), and how to use it."""
    m = result.metrics
    d = m.get("draws")
    if d:
        print(d["sentence"])
        for split in ("dev", "test"):
            for k, s in d["summary"].get(split, {}).items():
                ci = f" (95% {s['ci95'][0]:.3f}-{s['ci95'][1]:.3f})" if s["ci95"] else ""
                print(f"{split} {k}: {s['mean']:.4f} +- {s['std']:.4f}{ci}")
    else:
        for split in ("dev", "test"):
            if isinstance(m.get(split), dict):
                print(
                    f"{split}: accuracy {m[split].get('accuracy', float('nan')):.4f}  "
                    f"macro_f1 {m[split].get('macro_f1', float('nan')):.4f}"
                )
    print(f"\nrun directory: {result.path}")
    if (m.get("method") or {}).get("name") == "icl":
        print("icl trains no model: the prompt is in each run's prompt.json / prompt.txt")
        return
    print(f"use it: tunewise predict {result.path} --input FILE --output preds.jsonl")


def print_run(result) -> None:
    """The task's summary of a finished run, and how to use it."""
    from tunewise.console import make_console
    from tunewise.tasks import get_task

    task = get_task(result.metrics.get("task", "classification"))
    console = make_console(soft_wrap=True)  # full width when the output is not a terminal
    task.print_summary(result.metrics, console)
    print(f"\nrun directory: {result.path}")
    if result.metrics.get("cv"):
        runs = ", ".join(str(result.path / r) for r in result.metrics["cv"]["runs"])
        print(f"cross-validation: the pooled figures above; each fold's model in {runs}")
        return
    if task.route is not None and task.route.generation:
        print(
            f"use it: tunewise generate {result.path} --prompt TEXT   |   "
            f"tunewise chat {result.path}   |   tunewise predict {result.path} --input FILE"
        )
        return
    method = result.metrics.get("method", {}).get("name", "full")
    if method == "full":
        print(f"model (plain transformers): {result.path / 'model'}")
    else:
        print(f"adapter + head ({method}): {result.path / 'model'}")
        print(f"plain transformers model: tunewise export {result.path} --merge --out DIR")
    print(f"use it: tunewise predict {result.path} --input FILE --output preds.jsonl")
    print(
        f"   or: python -c \"import tunewise; print(tunewise.load('{result.path}').predict(['some text']))\""
    )


def _echo(line: str) -> None:
    import sys

    print(line, file=sys.stderr, flush=True)
