"""`tunewise curve` (methods x label budgets x draws) and `tunewise suggest` (what to label next)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

Opt = typer.Option


def curve(
    overrides: Annotated[
        list[str] | None,
        typer.Argument(
            help="Dotted overrides, e.g. train.epochs=10; method options (--setfit.iterations "
            "10) go to that method's cells",
            show_default=False,
        ),
    ] = None,
    train_file: Annotated[
        Path | None, Opt("--train", help="Training data: the pool the shots are drawn from")
    ] = None,
    out: Annotated[Path | None, Opt(help="Curve folder (a stopped curve resumes here)")] = None,
    test: Annotated[Path | None, Opt(help="Test data; carved from train when absent")] = None,
    dev: Annotated[Path | None, Opt(help="Dev data to draw dev shots from [rest of train]")] = None,
    model: Annotated[str | None, Opt(help="Packaged name, local dir or hub id")] = None,
    shots: Annotated[str, Opt(help="Label budgets per class, e.g. 8,16,32,64,all")] = "8,16,32",
    methods: Annotated[
        str, Opt(help="Methods, comma-separated: any of `tunewise methods`, or tfidf")
    ] = "setfit,full,head,tfidf",
    draws: Annotated[int, Opt(help="Draws per budget (the same draws for every method)")] = 5,
    text_column: Annotated[str | None, Opt(help="Column with the text [text]")] = None,
    label_column: Annotated[str | None, Opt(help="Column with the label [label]")] = None,
    epochs: Annotated[float | None, Opt(help="Epochs of the loop-trained methods [3]")] = None,
    seed: Annotated[int | None, Opt(help="Seed of the first draw [0]")] = None,
    icl_model: Annotated[
        str, Opt(help="Decoder of the icl cells (demonstrations in the prompt)")
    ] = "smollm2",
) -> None:
    """A learning curve: which method wins at which label budget, and what more labels buy."""
    from tunewise.config import build_config
    from tunewise.errors import UserError
    from tunewise.fewshot.curve import parse_budgets, parse_methods, run_curve

    if train_file is None or out is None:
        raise UserError("curve needs --train FILE and --out DIR")
    budgets, names = parse_budgets(shots), parse_methods(methods)
    if draws < 1:
        raise UserError(f"--draws: {draws}; give 1 or more")
    flags = {
        "model.name": model,
        "data.train": str(train_file),
        "data.dev": str(dev) if dev else None,
        "data.test": str(test) if test else None,
        "data.text_column": text_column,
        "data.label_column": label_column,
        "train.epochs": epochs,
        "fewshot.seed": seed,
    }
    plain, method_opts = split_method_overrides(overrides or [])
    cfg = build_config({}, flags, plain)
    record = run_curve(
        cfg,
        budgets,
        names,
        draws,
        out,
        echo=_echo,
        method_options=method_opts,
        icl_model=icl_model,
    )
    print(record["sentence"])
    print(f"curve: {out / 'curve.json'}  page: {out / 'curve.html'}")


def split_method_overrides(overrides: list[str]) -> tuple[list[str], dict]:
    """(overrides for the shared config, {method key: {option: value}}): a curve runs several
    methods, so each method's options are kept for its own cells."""
    from tunewise.config import parse_override

    plain: list[str] = []
    per: dict = {}
    for item in overrides:
        keys, value = parse_override(item)
        if len(keys) >= 3 and keys[0] == "method":
            per.setdefault(keys[1], {})[".".join(keys[2:])] = value
        else:
            plain.append(item)
    return plain, per


def suggest(
    run: Annotated[Path, typer.Argument(help="A finished run (or a --draws folder)")],
    pool: Annotated[Path, Opt(help="Unlabeled texts (CSV, TSV, JSONL, or .txt one per line)")],
    out: Annotated[Path, Opt(help="CSV to write for a person to label")],
    n: Annotated[int, Opt(help="How many texts to suggest")] = 50,
    text_column: Annotated[str | None, Opt(help="Column with the text [the run's]")] = None,
    diversity: Annotated[
        float, Opt(help="Weight of unlikeness to earlier picks against uncertainty [0.5]")
    ] = 0.5,
) -> None:
    """The N pool texts whose labels would help most (uncertain and unlike each other)."""
    from tunewise.fewshot.suggest import suggest as run_suggest

    rec = run_suggest(run, pool, n, out, text_column, diversity)
    print(f"{rec['written']} of {rec['pool']} pool texts to label: {rec['out']}")


def _echo(line: str) -> None:
    import sys

    print(line, file=sys.stderr, flush=True)
