"""The doctor's report for a person: one line per check, examples under failures."""

from __future__ import annotations

from tunewise.doctor.report import DoctorReport

STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def _examples(details: dict) -> list[str]:
    """A few example texts from anywhere in the details."""
    out: list[str] = []

    def walk(node) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "examples" and isinstance(v, list):
                    for ex in v:
                        text = ex.get("text") if isinstance(ex, dict) else None
                        if text is None and isinstance(ex, dict):
                            text = " <-> ".join(str(x) for x in ex.values() if isinstance(x, str))
                        if text and len(out) < 3:
                            out.append(text)
                else:
                    walk(v)

    walk(details)
    return out


def print_summary(report: DoctorReport, console=None) -> None:
    """Print one line per check (errors red, warnings yellow) and a few examples."""
    from rich.markup import escape
    from rich.padding import Padding
    from rich.text import Text

    from tunewise.console import make_console

    console = console or make_console(stderr=True, highlight=False)
    rows = ", ".join(f"{k} {v}" for k, v in report.splits.items())
    console.print(f"[bold]tunewise doctor[/bold] ({rows} rows)")
    for f in report.findings:
        if f.details.get("skipped"):
            console.print(f"  [dim]skip     {f.check}: {escape(f.title)}[/dim]")
            continue
        if f.ok:
            console.print(f"  [green]ok[/green]       {f.check}: {escape(f.title)}")
            continue
        allowed = f.severity == "error" and f.check in report.allowed
        label = "allowed" if allowed else f.severity
        style = "magenta" if allowed else STYLE.get(f.severity, "")
        console.print(f"  [{style}]{label:<8}[/{style}] {f.check}: {escape(f.title)}")
        if f.message:
            console.print(Padding(Text(f.message), (0, 0, 0, 11), expand=False))
        for text in _examples(f.details):
            console.print(Padding(Text(f"e.g. {text}", style="dim"), (0, 0, 0, 11), expand=False))
    n_err, n_warn = len(report.errors), len(report.warnings)
    style = "bold red" if n_err else "yellow" if n_warn else "green"
    console.print(f"[{style}]{n_err} error(s), {n_warn} warning(s)[/{style}]")
