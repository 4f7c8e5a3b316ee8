"""`tunewise evaluate` and `tunewise predict`: use a finished run, of any task, on new files.

Both go through the run's predictor (``tunewise.load``): it reads the file with the run's own
data settings and answers every row, whatever the task.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

Opt = typer.Option
FOR_TASK_HELP = (
    "lora-per-task run: answer with this task's adapter [the router picks one per input]"
)


def _load(run: Path, text_column, text_pair_column, label_column, for_task=None):
    """The run's predictor; column flags override the run's saved data settings."""
    import tunewise
    from tunewise.errors import UserError

    pred = tunewise.load(run)
    if for_task is not None:
        if not hasattr(pred, "given"):
            raise UserError(f"--for-task: {run} is not a lora-per-task run (one model, no tasks)")
        pred.given(for_task)
    overrides = {
        "text_column": text_column,
        "text_pair_column": text_pair_column,
        "label_column": label_column,
    }
    if getattr(pred, "run", None) is not None:
        pred.run.data_overrides.update({k: v for k, v in overrides.items() if v is not None})
    return pred


def evaluate(
    run: Annotated[Path, typer.Argument(help="A finished run directory")],
    data: Annotated[Path, Opt(help="Labeled file to evaluate on")],
    text_column: Annotated[str | None, Opt(help="Text column [run's]")] = None,
    text_pair_column: Annotated[str | None, Opt(help="Pair column [run's]")] = None,
    label_column: Annotated[str | None, Opt(help="Label column [run's]")] = None,
    output: Annotated[
        Path | None, Opt(help="Write metrics JSON here [RUN/evaluations/<file>.json]")
    ] = None,
    for_task: Annotated[str | None, Opt(help=FOR_TASK_HELP)] = None,
) -> None:
    """Evaluate a trained run on a labeled file (metrics over the whole file)."""
    from tunewise.cli.paths import check_output_file
    from tunewise.console import make_console
    from tunewise.rundir import write_json

    if output is not None:
        check_output_file(output, [data])  # never over the input, never onto a folder
    pred = _load(run, text_column, text_pair_column, label_column, for_task)
    metrics = pred.evaluate_file(data)
    pred.task.print_summary({"task": pred.task.name, **metrics}, make_console(soft_wrap=True))
    out = output or run / "evaluations" / f"{data.stem}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json(out, {"data": str(data), **metrics["test"]})
    print(f"metrics written to {out}")


def predict(
    run: Annotated[Path, typer.Argument(help="A finished run directory (or its model/ directory)")],
    input: Annotated[
        Path, Opt("--input", "-i", help="CSV, TSV, JSONL, Parquet or TXT (one text per line)")
    ],
    output: Annotated[Path | None, Opt("--output", "-o", help="JSONL predictions [stdout]")] = None,
    text_column: Annotated[str | None, Opt(help="Text column [run's]")] = None,
    text_pair_column: Annotated[str | None, Opt(help="Pair column [run's]")] = None,
    for_task: Annotated[str | None, Opt(help=FOR_TASK_HELP)] = None,
    engine: Annotated[
        str, Opt(help="local (this process) or ray (Ray Data actors, one predictor each)")
    ] = "local",
) -> None:
    """Predict every row of a file with the run's task (labels, entities, numbers, answers);
    one JSON object per line, in input order."""
    from tunewise.cli.paths import check_output_file
    from tunewise.errors import UserError
    from tunewise.evaluation.calibration import describe_temperature
    from tunewise.rundir import atomic_write

    if engine not in ("local", "ray"):
        raise UserError(f"--engine {engine!r}: give local or ray")
    if engine == "ray" and for_task is not None:
        raise UserError("--for-task: not with --engine ray (the Ray actors route by themselves)")
    if output is not None:
        check_output_file(output, [input])  # never over the input, never onto a folder
    pred = _load(run, text_column, text_pair_column, None, for_task)
    if note := describe_temperature(getattr(pred, "temperature", 1.0)):
        print(note, file=sys.stderr)
    exs = pred.read_inputs(input)
    if engine == "ray":
        from tunewise.run.engine_ray import predict_ray

        results = predict_ray(run, exs)
    else:
        results = pred.predict_rows(exs)
    if len(results) != len(exs):
        raise RuntimeError(f"{len(results)} predictions for {len(exs)} rows")
    lines = [json.dumps(r, ensure_ascii=False) for r in results]
    body = "\n".join(lines) + "\n"
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(output, body)
        print(f"{len(lines)} predictions written to {output}", file=sys.stderr)
    else:
        sys.stdout.write(body)
