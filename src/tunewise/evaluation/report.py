"""The run report: one self-contained HTML page and a Markdown twin, written into the run dir.

``write_report(run_dir)`` reads only files of the run directory (see ``tunewise.rundir``);
sections whose files are missing say "not available" instead of failing, so the report of a
failed or interrupted run is still written (its status is in the header).
"""

from __future__ import annotations

from pathlib import Path

from tunewise.errors import UserError
from tunewise.evaluation import report_html, report_md
from tunewise.evaluation.report_data import RunData, load_run
from tunewise.rundir import RUN_FILE, RunDir, atomic_write

HTML_FILE = "report.html"
MD_FILE = "report.md"

__all__ = ["HTML_FILE", "MD_FILE", "RunData", "load_run", "render", "write_report"]


def _require_reportable(path: Path) -> None:
    """A report needs run.json and config.yaml; the run itself need not have finished."""
    run = RunDir(path)
    if not run.path.is_dir():
        raise UserError(f"{run.path}: no such run directory")
    if not run.run_file.is_file():
        raise UserError(f"{run.path}: not a tunewise run directory (no {RUN_FILE})")
    if not run.config.is_file():
        raise UserError(f"{run.path}: no config.yaml; the run stopped before it started training")


def render(run_dir: str | Path, sections=()) -> tuple[str, str]:
    """(HTML text, Markdown text) of the report for ``run_dir``, without writing anything.

    Args:
        sections: the run's task's own sections (``tunewise.tasks.base.Section``), shown after
            the header.
    """
    data = load_run(run_dir)
    return report_html.render(data, sections), report_md.render(data, sections)


def write_report(run_dir: str | Path, sections=()) -> tuple[Path, Path]:
    """Write ``report.html`` and ``report.md`` into ``run_dir``.

    Args:
        run_dir: a run directory with at least ``run.json`` and ``config.yaml``; any status.

    Returns:
        (path of report.html, path of report.md).

    Raises:
        UserError: the directory is missing or is not a run directory.
    """
    path = Path(run_dir)
    _require_reportable(path)
    html, md = render(path, sections)
    html_path, md_path = path / HTML_FILE, path / MD_FILE
    atomic_write(html_path, html)
    atomic_write(md_path, md)
    return html_path, md_path
