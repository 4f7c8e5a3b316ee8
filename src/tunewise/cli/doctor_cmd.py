"""`tunewise doctor`: check data files before training (duplicates, leaks, labels, tokens)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

Opt = typer.Option


def doctor(
    train_file: Annotated[Path, Opt("--train", help="Training data (CSV, TSV, JSONL, Parquet)")],
    dev: Annotated[Path | None, Opt(help="Dev data")] = None,
    test: Annotated[Path | None, Opt(help="Test data")] = None,
    model: Annotated[
        str, Opt(help="Model whose tokenizer the token checks use (packaged, local dir, hub id)")
    ] = "minilm",
    text_column: Annotated[str, Opt(help="Column with the text")] = "text",
    text_pair_column: Annotated[
        str | None, Opt(help="Column with the second text of a pair")
    ] = None,
    label_column: Annotated[str, Opt(help="Column with the label")] = "label",
    quoting: Annotated[
        str, Opt(help="CSV/TSV quotes: auto (TSV read as is, CSV quoted), none or csv")
    ] = "auto",
    multi_label: Annotated[bool, Opt("--multi-label", help="Several labels per example")] = False,
    max_length: Annotated[int, Opt(help="Truncation length in tokens to check against")] = 128,
    near_duplicate_threshold: Annotated[
        float, Opt(help="Jaccard of word 3-shingles above which texts are near-duplicates")
    ] = 0.9,
    allow: Annotated[
        list[str] | None, Opt("--allow", help="Error-level check to let through (repeatable)")
    ] = None,
    no_tokenizer: Annotated[
        bool, Opt("--no-tokenizer", help="Skip the checks that need the model's tokenizer")
    ] = False,
    out: Annotated[Path, Opt(help="Directory to write doctor.json into")] = Path("."),
    task: Annotated[
        str,
        Opt(
            "--task",
            help="A registered task: classification, tokens (CoNLL, BMES, JSONL spans), "
            "sft, regression",
        ),
    ] = "classification",
    tag_column: Annotated[int, Opt(help="tokens, CoNLL files: column of the tag [-1 = last]")] = -1,
    tag_scheme: Annotated[str, Opt(help="tokens: IO, BIO, IOB1, BIOES, BMES or auto")] = "auto",
    token_format: Annotated[str, Opt(help="tokens: auto, conll, chars or jsonl")] = "auto",
) -> None:
    """Check train/dev/test files: duplicates, leaks between splits, labels, lengths, [UNK]s."""
    from tunewise.config import build_config
    from tunewise.doctor import print_summary, run_doctor
    from tunewise.doctor.preflight import errors_line
    from tunewise.doctor.report import check_allow
    from tunewise.errors import UserError
    from tunewise.rundir import DOCTOR_FILE
    from tunewise.tasks import get_task

    task_cls = get_task(task)
    cfg = build_config(
        flags={
            "task.type": task,
            "task.multi_label": multi_label,
            "model.name": model,
            "model.max_length": max_length,
            "data.train": str(train_file),
            "data.dev": None if dev is None else str(dev),
            "data.test": None if test is None else str(test),
            "data.text_column": text_column,
            "data.text_pair_column": text_pair_column,
            "data.label_column": label_column,
            "data.quoting": quoting,
            "data.tag_column": tag_column,
            "data.tag_scheme": tag_scheme,
            "data.token_format": token_format,
        }
    )
    allow = check_allow(allow)
    data = task_cls.read_data(cfg)
    tokenizer = None
    if not no_tokenizer:
        from tunewise.models.loading import load_pretrained, load_tokenizer

        _, tokenizer = load_pretrained(model, lambda p: load_tokenizer(p))
        task_cls.from_data(cfg, data, tokenizer)  # e.g. the chat template sft checks render with
    splits = {
        name: task_cls.doctor_view(part)
        for name, part in (("train", data.train), ("dev", data.dev), ("test", data.test))
        if part is not None
    }
    report = run_doctor(
        splits,
        tokenizer=tokenizer,
        max_length=max_length,
        allow=allow,
        near_duplicate_threshold=near_duplicate_threshold,
        checks=task_cls.doctor_checks,
    )
    print_summary(report)
    path = report.write(out / DOCTOR_FILE)
    print(f"report written to {path}")
    if report.errors:
        raise UserError(errors_line(report, "--allow NAME"))
