"""Running the checks and the report they make (written as ``doctor.json``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from tunewise.data.examples import Example
from tunewise.doctor.registry import CHECKS, Context, Finding
from tunewise.errors import UserError

VERSION = 1


@dataclass
class DoctorReport:
    """Every check's finding, and the error checks the user allowed."""

    findings: list[Finding]
    allowed: list[str] = field(default_factory=list)
    splits: dict[str, int] = field(default_factory=dict)
    """Rows per split."""

    @property
    def errors(self) -> list[Finding]:
        """Failed error-level findings that were not allowed: these stop training."""
        return [
            f
            for f in self.findings
            if not f.ok and f.severity == "error" and f.check not in self.allowed
        ]

    @property
    def allowed_errors(self) -> list[Finding]:
        """Failed error-level findings let through by ``allow``."""
        return [
            f
            for f in self.findings
            if not f.ok and f.severity == "error" and f.check in self.allowed
        ]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if not f.ok and f.severity == "warning"]

    def __getitem__(self, check: str) -> Finding:
        return next(f for f in self.findings if f.check == check)

    def to_dict(self) -> dict:
        return {
            "version": VERSION,
            "findings": [asdict(f) for f in self.findings],
            "errors": [f.check for f in self.errors],
            "warnings": [f.check for f in self.warnings],
            "allowed": list(self.allowed),
            "allowed_errors": [f.check for f in self.allowed_errors],
            "splits": dict(self.splits),
        }

    def write(self, path: str | Path) -> Path:
        """Write the report as JSON, atomically."""
        from tunewise.rundir import write_json

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json(path, self.to_dict())
        return path


def check_allow(allow) -> list[str]:
    """The allowed check names, validated: an unknown name is a UserError."""
    allow = list(dict.fromkeys(allow or ()))
    unknown = [a for a in allow if a not in CHECKS]
    if unknown:
        errors = ", ".join(n for n, c in CHECKS.items() if c.severity == "error")
        raise UserError(
            f"doctor.allow: unknown check {', '.join(map(repr, unknown))}; "
            f"error-level checks are: {errors}"
        )
    return allow


def run_doctor(
    splits: dict[str, list[Example]],
    *,
    tokenizer=None,
    max_length: int = 128,
    allow=(),
    near_duplicate_threshold: float = 0.9,
    checks=None,
) -> DoctorReport:
    """Run every registered check on the splits.

    Args:
        splits: ``{"train": [...], "dev": [...], "test": [...]}``; missing or empty splits
            are left out of the checks that compare splits.
        tokenizer: the model's tokenizer; checks that need one are skipped without it.
        allow: names of error-level checks whose failure does not stop training.
        checks: names of the checks to run, in order (a task's ``doctor_checks``); None runs
            the task-neutral checks of this package (texts and labels: what classification uses).

    Returns:
        The report; ``report.errors`` lists the failures that should stop training.
    """
    allow = check_allow(allow)
    ctx = Context(tokenizer, max_length, near_duplicate_threshold)
    splits = {k: list(v or []) for k, v in splits.items()}
    names = (
        [n for n, c in CHECKS.items() if c.fn.__module__.startswith("tunewise.doctor.")]
        if checks is None
        else list(checks)
    )
    unknown = [n for n in names if n not in CHECKS]
    if unknown:
        raise ValueError(f"unknown doctor checks {unknown}")
    findings = [CHECKS[n](splits, ctx) for n in names]
    return DoctorReport(findings, allow, {k: len(v) for k, v in splits.items()})
