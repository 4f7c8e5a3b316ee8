"""`tunewise forgetting RUN`: the forgetting matrix of a continued run, its measures."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def forgetting(
    run: Annotated[Path, typer.Argument(help="A run continued with --continue-from")],
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the matrix as JSON")
    ] = None,
    html_out: Annotated[
        Path | None, typer.Option("--html", help="Write the heatmap report")
    ] = None,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap replicates for the intervals")] = 1000,
) -> None:
    """Accuracy on every earlier test set after each stage; average accuracy, backward and
    forward transfer with intervals."""
    from tunewise.continual.forgetting import forgetting as compute
    from tunewise.continual.forgetting import print_table
    from tunewise.continual.forgetting_html import render
    from tunewise.rundir import atomic_write, write_json

    f = compute(run, n_boot=max(bootstrap, 10))
    print_table(f)
    if json_out is not None:
        write_json(json_out, f)
        print(f"json: {json_out}")
    if html_out is not None:
        atomic_write(html_out, render(f))
        print(f"html: {html_out}")
