"""`tunewise report`: write a run's report.html and report.md and print where they are."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def report(
    run: Annotated[Path, typer.Argument(help="A run directory (finished or not)")],
) -> None:
    """Write RUN/report.html (one self-contained page with figures) and RUN/report.md; for a
    `tunewise curve` directory, the learning curves' report."""
    if (run / "curve.json").is_file():
        html_path, md_path = _curve_report(run)
    else:
        from tunewise.run.finish import write_report

        html_path, md_path = write_report(run)
    print(html_path)
    print(md_path)


def _curve_report(out: Path) -> tuple[Path, Path]:
    """A curve directory's report: the plot (accuracy and macro-F1 with intervals against
    labels, log x axis), the table, the fits and the sentence, rebuilt from curve.json."""
    from tunewise.fewshot.curve import load_curve
    from tunewise.fewshot.curve_page import curve_html, curve_md
    from tunewise.rundir import atomic_write

    record = load_curve(out)
    html_path, md_path = out / "report.html", out / "report.md"
    atomic_write(html_path, curve_html(record))
    atomic_write(md_path, curve_md(record))
    return html_path, md_path
