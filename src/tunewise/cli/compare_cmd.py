"""`tunewise compare A B`: is run B really better than run A on the same test rows?"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

Opt = typer.Option


def compare(
    run_a: Annotated[Path, typer.Argument(help="Run directory A (the reference)")],
    run_b: Annotated[Path, typer.Argument(help="Run directory B (the challenger)")],
    json_out: Annotated[
        Path | None, Opt("--json", help="Also write the full comparison as JSON here")
    ] = None,
    n_boot: Annotated[int, Opt(help="Bootstrap resamples")] = 10000,
    seed: Annotated[int, Opt(help="Bootstrap seed")] = 0,
) -> None:
    """Compare two runs' test predictions: paired bootstrap, McNemar's test and a verdict."""
    from rich.table import Table

    from tunewise.console import make_console
    from tunewise.errors import UserError
    from tunewise.evaluation.stats import compare_runs
    from tunewise.rundir import write_json

    if n_boot < 100:
        raise UserError(f"--n-boot {n_boot}: use at least 100 resamples")
    res = compare_runs(run_a, run_b, n_boot=n_boot, seed=seed)
    mc = res["mcnemar"]
    level = round(res["accuracy"]["level"] * 100)
    t = Table(
        "metric",
        "A",
        "B",
        "B - A",
        f"{level}% CI",
        "bootstrap p",
        "McNemar p",
        title=f"A = {run_a}, B = {run_b} ({res['n']} test rows)",
    )
    for key, name in (("accuracy", "accuracy"), ("macro_f1", "macro-F1")):
        r = res[key]
        t.add_row(
            name,
            f"{r['a']:.4f}",
            f"{r['b']:.4f}",
            f"{r['delta']:+.4f}",
            f"{r['ci'][0]:+.4f} to {r['ci'][1]:+.4f}",
            f"{r['p_value']:.4f}" if r["p_value"] else f"<{1 / r['n_boot']:.2g}",
            f"{mc['p_value']:.4g}" if key == "accuracy" else "",
        )
    console = make_console()
    console.print(t)
    console.print(
        f"rows only A got right: {mc['a_only_right']}, only B: {mc['b_only_right']} "
        f"({'exact binomial' if mc['exact'] else 'chi-square'} McNemar test)"
    )
    console.print(res["verdict"])
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        write_json(json_out, res)
        console.print(f"comparison written to {json_out}")
