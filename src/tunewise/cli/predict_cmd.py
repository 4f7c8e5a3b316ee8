"""`tunewise evaluate` and `tunewise predict`: use a finished run on new files."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

Opt = typer.Option


def _columns(run: Path, text_column, text_pair_column, label_column) -> dict:
    """Column names: flags first, then the run's own config."""
    from tunewise.config import load_yaml

    data = load_yaml(run / "config.yaml").get("data", {}) if (run / "config.yaml").is_file() else {}
    return {
        "text_column": text_column or data.get("text_column", "text"),
        "text_pair_column": text_pair_column or data.get("text_pair_column"),
        "label_column": label_column or data.get("label_column", "label"),
        "label_sep": data.get("label_sep", "|"),
        "quoting": data.get("quoting", "auto"),
    }


def _read_inputs(path: Path, cols: dict, require_label: bool, multi_label: bool):
    from tunewise.cli.paths import text_lines
    from tunewise.data import Example, read_examples
    from tunewise.errors import UserError

    if path.suffix.lower() == ".txt":
        if not path.is_file():
            raise UserError(f"{path}: file not found")
        try:
            lines = text_lines(path.read_bytes().decode("utf-8"))
        except UnicodeDecodeError as e:
            line = path.read_bytes()[: e.start].count(b"\n") + 1
            raise UserError(
                f"{path} line {line}: not valid UTF-8; save the file as UTF-8"
            ) from None
        exs = [
            Example(t, None, None, f"{path} line {i + 1}") for i, t in enumerate(lines) if t.strip()
        ]
        if not exs:
            raise UserError(f"{path}: empty file (no rows)")
        return exs
    return read_examples(path, require_label=require_label, multi_label=multi_label, **cols)


def evaluate(
    run: Annotated[Path, typer.Argument(help="A finished run directory")],
    data: Annotated[Path, Opt(help="Labeled file to evaluate on")],
    text_column: Annotated[str | None, Opt(help="Text column [run's]")] = None,
    text_pair_column: Annotated[str | None, Opt(help="Pair column [run's]")] = None,
    label_column: Annotated[str | None, Opt(help="Label column [run's]")] = None,
    output: Annotated[
        Path | None, Opt(help="Write metrics JSON here [RUN/evaluations/<file>.json]")
    ] = None,
) -> None:
    """Evaluate a trained run on a labeled file (metrics over the whole file)."""
    import tunewise
    from tunewise.cli.report import print_metrics
    from tunewise.rundir import write_json

    if output is not None:
        from tunewise.cli.paths import check_output_file

        check_output_file(output, [data])
    pred = tunewise.load(run)
    if pred.task.name == "tokens":
        metrics = pred.evaluate_file(data)
        print_metrics({"task": "tokens", "test": metrics})
        out = output or run / "evaluations" / f"{data.stem}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        write_json(out, {"data": str(data), **metrics})
        print(f"metrics written to {out}")
        return
    exs = _read_inputs(
        data,
        _columns(run, text_column, text_pair_column, label_column),
        True,
        pred.task.multi_label,
    )
    metrics = pred.evaluate(exs, data)
    if len(exs) != metrics["n"]:
        raise RuntimeError(f"{metrics['n']} predictions for {len(exs)} rows")
    print_metrics({"test": metrics})
    out = output or run / "evaluations" / f"{data.stem}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json(out, {"data": str(data), **metrics})
    print(f"metrics written to {out}")


def predict(
    run: Annotated[Path, typer.Argument(help="A finished run directory (or its model/ directory)")],
    input: Annotated[
        Path, Opt("--input", "-i", help="CSV, TSV, JSONL, Parquet or TXT (one text per line)")
    ],
    output: Annotated[Path | None, Opt("--output", "-o", help="JSONL predictions [stdout]")] = None,
    text_column: Annotated[str | None, Opt(help="Text column [run's]")] = None,
    text_pair_column: Annotated[str | None, Opt(help="Pair column [run's]")] = None,
) -> None:
    """Predict labels for every row of a file; one JSON object per line, in input order."""
    import tunewise
    from tunewise.rundir import atomic_write

    if output is not None:
        from tunewise.cli.paths import check_output_file

        check_output_file(output, [input])  # never over the input, never onto a folder
    pred = tunewise.load(run)
    from tunewise.evaluation.calibration import describe_temperature

    if note := describe_temperature(getattr(pred, "temperature", 1.0)):
        print(note, file=sys.stderr)
    cols = _columns(run, text_column, text_pair_column, None)
    exs = _read_inputs(input, cols, False, pred.task.multi_label)
    if pred.task.name == "tokens":  # entities with character offsets
        results = pred.predict([e.text for e in exs])
    else:
        results = pred.decode(pred.logits(exs))
    lines = [
        json.dumps(
            {
                "text": e.text,
                **({"text_pair": e.text_pair} if e.text_pair is not None else {}),
                **r,
            },
            ensure_ascii=False,
        )
        for e, r in zip(exs, results)
    ]
    body = "\n".join(lines) + "\n"
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(output, body)
        print(f"{len(lines)} predictions written to {output}", file=sys.stderr)
    else:
        sys.stdout.write(body)
