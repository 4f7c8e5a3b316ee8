"""`tunewise continual`: a task sequence for several strategies and seeds (progress, resume),
or one task's time-ordered stream cut into slices (train once vs continue with each slice)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

Opt = typer.Option


def continual(
    out: Annotated[Path, Opt(help="Folder for every stage's run and the summary")],
    tasks: Annotated[
        Path | None, Opt(help="Sequence file: tasks: [{name, train, test, dev?}], model, config")
    ] = None,
    strategies: Annotated[
        str, Opt(help="Comma-separated: naive, replay, ewc, lora-per-task, joint")
    ] = "naive,replay",
    seeds: Annotated[str, Opt(help="A count (3: seeds 42, 43, 44) or a list (1,2,3)")] = "1",
    replay: Annotated[
        str | None, Opt(help="replay memory: rows (200) or share of earlier rows (2%) [20%]")
    ] = None,
    replay_mix: Annotated[
        float | None, Opt(help="replay: share of each epoch's rows from the memory [0.5]")
    ] = None,
    ewc_lambda: Annotated[float | None, Opt(help="Weight of the EWC penalty [1.0]")] = None,
    stream: Annotated[
        Path | None, Opt(help="Domain shift over time: one task's rows with a time column")
    ] = None,
    time_column: Annotated[str, Opt(help="--stream: the column holding an ISO date")] = "date",
    text_column: Annotated[str, Opt(help="--stream: the text column")] = "text",
    label_column: Annotated[str, Opt(help="--stream: the label column")] = "label",
    slice_by: Annotated[
        str, Opt("--slice", help="--stream: day, week, month, quarter or year")
    ] = "month",
    min_rows: Annotated[int, Opt(help="--stream: smaller slices join the next one")] = 50,
    max_rows: Annotated[
        int | None, Opt(help="--stream: at most this many rows per slice (seeded sample)")
    ] = None,
    strategy: Annotated[str, Opt(help="--stream: how each new slice is learned")] = "naive",
    config: Annotated[
        Path | None, Opt("--config", "-c", help="YAML config for every stage")
    ] = None,
) -> None:
    """Continual learning over a task sequence (or over time slices of one task)."""
    import sys

    from tunewise.errors import UserError

    def echo(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    if (tasks is None) == (stream is None):
        raise UserError(
            "give --tasks FILE (a task sequence) or --stream FILE (time slices), one of them"
        )
    if stream is not None:
        from tunewise.config import load_yaml
        from tunewise.continual.sequence import parse_seeds
        from tunewise.continual.timeslices import drift_markdown, run_time_slices

        chosen = parse_seeds(seeds)
        if len(chosen) != 1:
            raise UserError(
                f"--stream trains one seed per --out; --seeds {seeds!r} gives {len(chosen)} "
                "(run once per seed, each into its own --out)"
            )
        rec = run_time_slices(
            stream,
            out,
            grain=slice_by,
            text_column=text_column,
            label_column=label_column,
            time_column=time_column,
            strategy=strategy,
            min_rows=min_rows,
            max_rows=max_rows,
            seed=chosen[0],
            config=load_yaml(config) if config else None,
            echo=echo,
        )
        print(drift_markdown(rec))
        return
    from tunewise.continual.sequence import run_sequence

    run_sequence(tasks, strategies, seeds, out, replay, ewc_lambda, echo, replay_mix)
    print((out / "summary.md").read_text())
