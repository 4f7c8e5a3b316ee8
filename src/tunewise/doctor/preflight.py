"""The doctor before training: run the checks, record them in the run, stop on errors."""

from __future__ import annotations

from pathlib import Path

from tunewise.doctor.report import DoctorReport, run_doctor
from tunewise.errors import UserError
from tunewise.rundir import DOCTOR_FILE


def errors_line(report: DoctorReport, allow_hint: str) -> str:
    names = [f.check for f in report.errors]
    return (
        f"doctor found {len(names)} error(s): {', '.join(names)}; fix the data or allow with "
        f"{allow_hint}"
    )


def preflight(cfg, splits: dict, checks, tokenizer, out: Path | None, echo) -> DoctorReport:
    """Run the doctor's ``checks`` on the training splits (``{"train": [...], ...}``); write
    ``out/doctor.json`` when out is given.

    Raises:
        UserError: an error-level check failed and ``cfg.doctor.allow`` does not name it.
    """
    report = run_doctor(
        splits,
        tokenizer=tokenizer,
        max_length=cfg.model.max_length,
        allow=cfg.doctor.allow,
        near_duplicate_threshold=cfg.doctor.near_duplicate_threshold,
        checks=checks,
    )
    if out is not None:
        report.write(Path(out) / DOCTOR_FILE)
    for f in report.errors + report.allowed_errors + report.warnings:
        tag = "allowed error" if f in report.allowed_errors else f.severity
        echo(f"doctor {tag}: {f.check}: {f.title}")
    echo(f"doctor: {len(report.errors)} error(s), {len(report.warnings)} warning(s)")
    if report.errors:
        names = [f.check for f in report.errors]
        flags = " ".join(f"--allow {n}" for n in names)
        where = f" (details in {Path(out) / 'doctor.json'})" if out is not None else ""
        raise UserError(errors_line(report, f"{flags} or doctor.allow=[{','.join(names)}]") + where)
    return report
