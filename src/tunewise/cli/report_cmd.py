"""`tunewise report`: write a run's report.html and report.md and print where they are."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def report(
    run: Annotated[Path, typer.Argument(help="A run directory (finished or not)")],
) -> None:
    """Write RUN/report.html (one self-contained page with figures) and RUN/report.md."""
    from tunewise.run.finish import write_report

    html_path, md_path = write_report(run)
    print(html_path)
    print(md_path)
