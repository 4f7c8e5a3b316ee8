"""`tunewise pretrain`: keep pretraining on your own text (or pretrain a small encoder from
scratch), then fine-tune the result with `tunewise train --model RUN/model`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

Opt = typer.Option


def pretrain(
    overrides: Annotated[
        list[str] | None,
        typer.Argument(help="Dotted overrides, e.g. train.lr=3e-5", show_default=False),
    ] = None,
    model: Annotated[
        str | None, Opt(help="Packaged name, local dir or hub id to continue from [minilm]")
    ] = None,
    text: Annotated[
        Path | None,
        Opt(
            help=".txt (a document per line, or blank-line separated), JSONL/CSV/TSV/Parquet, or a folder"
        ),
    ] = None,
    text_column: Annotated[
        str | None, Opt(help="Column(s) with the text, comma-separated [text]")
    ] = None,
    dev: Annotated[Path | None, Opt(help="Held-out text [split from --text]")] = None,
    objective: Annotated[
        str, Opt(help="mlm (encoders: masked LM) or clm (decoders: causal LM, packed)")
    ] = "mlm",
    mask_prob: Annotated[float | None, Opt(help="mlm: share of words masked [0.15]")] = None,
    whole_word: Annotated[
        bool | None, Opt("--whole-word/--token-masking", help="mlm: mask whole words [on]")
    ] = None,
    dedup_against: Annotated[
        list[str] | None,
        Opt("--dedup-against", help="A labeled test set whose texts must stay out (repeatable)"),
    ] = None,
    from_scratch: Annotated[
        bool, Opt(help="Random weights: a small BERT-style encoder of --size")
    ] = False,
    size: Annotated[str, Opt(help="From scratch: tiny, mini or small")] = "tiny",
    tokenizer: Annotated[
        str, Opt(help="From scratch: train (WordPiece on the text) or model (--model's)")
    ] = "train",
    vocab_size: Annotated[
        int, Opt(help="From scratch: vocabulary of the trained tokenizer")
    ] = 8000,
    method: Annotated[str | None, Opt(help="mlm: full; clm: lora (default) or full")] = None,
    epochs: Annotated[float | None, Opt(help="Epochs [3]")] = None,
    max_steps: Annotated[int | None, Opt(help="Stop after this many optimizer steps")] = None,
    batch_size: Annotated[int | None, Opt(help="Batch size [32]")] = None,
    lr: Annotated[float | None, Opt(help="Peak learning rate [model's; 5e-4 from scratch]")] = None,
    max_length: Annotated[int | None, Opt(help="Tokens per row [128]")] = None,
    seed: Annotated[int | None, Opt(help="Seed [42]")] = None,
    bf16: Annotated[bool | None, Opt("--bf16/--no-bf16", help="bf16 autocast [auto]")] = None,
    eval_every: Annotated[
        int | None, Opt(help="Held-out perplexity every N steps [each epoch]")
    ] = None,
    allow: Annotated[list[str] | None, Opt("--allow", help="Let this doctor error through")] = None,
    out: Annotated[Path | None, Opt(help="Run directory [runs/<timestamp>]")] = None,
    overwrite: Annotated[bool, Opt(help="Replace an existing run directory at --out")] = False,
    resume: Annotated[Path | None, Opt(help="Continue an interrupted pretraining run")] = None,
) -> None:
    """Continue pretraining a model on unlabeled text (masked or causal LM); held-out
    perplexity before and after goes to the run's metrics.json."""
    from tunewise.config import build_config
    from tunewise.errors import UserError
    from tunewise.run.pretrain import Scratch
    from tunewise.run.pretrain import pretrain as run_pretrain

    if objective not in ("mlm", "clm"):
        raise UserError(f"--objective {objective!r}: use mlm (encoders) or clm (decoders)")
    options = {"objective": objective, "mask_prob": mask_prob, "whole_word": whole_word}
    if dedup_against:
        options["dedup_against"] = [str(p) for p in dedup_against]
    flags = {
        "task.type": "pretrain",
        "task.options": {k: v for k, v in options.items() if v is not None},
        "model.name": model,
        "model.max_length": max_length,
        "data.train": str(text) if text else None,
        "data.dev": str(dev) if dev else None,
        "data.text_column": text_column,
        "method.name": method,
        "train.epochs": epochs,
        "train.max_steps": max_steps,
        "train.batch_size": batch_size,
        "train.lr": lr,
        "train.seed": seed,
        "train.bf16": bf16,
        "train.eval_every": eval_every,
        "doctor.allow": allow or None,
        "out": str(out) if out else None,
    }
    cfg = None
    if resume is None:
        if text is None:
            raise UserError("no text to pretrain on: give --text FILE (or a folder)")
        cfg = build_config({}, flags, overrides)
    scratch = Scratch(size, vocab_size, tokenizer) if from_scratch else None
    result = run_pretrain(cfg, scratch=scratch, overwrite=overwrite, resume=resume, echo=_echo)
    if not result.main:
        return
    from tunewise.cli.train_cmd import print_run

    print_run(result)
    print(f"fine-tune it: tunewise train --model {result.path / 'model'} --train LABELED ...")


def _echo(line: str) -> None:
    import sys

    print(line, file=sys.stderr, flush=True)
