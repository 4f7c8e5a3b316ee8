"""`tunewise export`: a trained run as a directory other tools load."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

Opt = typer.Option


def export(
    run: Annotated[Path, typer.Argument(help="A finished run directory")],
    out: Annotated[Path, Opt("--out", "-o", help="Directory to write")],
    merge: Annotated[
        bool, Opt(help="Fold the adapter into the weights: a plain transformers model")
    ] = False,
    format: Annotated[
        str, Opt("--format", help="Export format: hf (transformers directory) or onnx")
    ] = "hf",
    quantize: Annotated[
        str | None,
        Opt(help="onnx only: int8 (the fastest ONNX Runtime recipe that keeps quality on dev)"),
    ] = None,
    probe: Annotated[
        Path | None, Opt(help="File to check parity on [the run's dev, test or train file]")
    ] = None,
    probe_rows: Annotated[
        int, Opt(help="Rows of the probe set (int8 must keep 99.5% of their labels)")
    ] = 1000,
    atol: Annotated[float, Opt(help="Largest |logit| difference accepted")] = 1e-4,
    overwrite: Annotated[bool, Opt(help="Replace an existing --out directory")] = False,
) -> None:
    """Export RUN; the result is reloaded and compared with the run (labels, logits) first."""
    import sys

    from tunewise.errors import UserError
    from tunewise.export import FORMATS

    if format not in FORMATS:
        raise UserError(f"--format {format}: choose one of {', '.join(FORMATS)}")
    extra = {}
    if quantize is not None:
        if format != "onnx":
            raise UserError("--quantize: only with --format onnx")
        extra["quantize"] = quantize
    record = FORMATS[format](
        run,
        out,
        merge=merge,
        probe=probe,
        probe_rows=probe_rows,
        atol=atol,
        overwrite=overwrite,
        echo=lambda line: print(line, file=sys.stderr),
        **extra,
    )
    p = record["parity"]
    how = f"onnx {record['precision']}" if format == "onnx" else ("merged" if merge else "unmerged")
    print(f"exported {run} -> {out} ({how}, format {format})")
    print(f"parity: {p['message']} on {p['rows']} probe rows")
    if format == "onnx":
        print(f"serve it: tunewise serve {out}")
    if record["plain_transformers"]:
        print(f'use it: transformers.pipeline("text-classification", model="{out}")')
