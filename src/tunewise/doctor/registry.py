"""The doctor's registry: each check registers itself, by decorator, beside its code."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tunewise.data.examples import Example

SEVERITIES = ("error", "warning", "info")
MAX_EXAMPLES = 5
"""Examples kept per finding (and per split pair) in the report."""

Splits = dict[str, list[Example]]


@dataclass
class Finding:
    """The outcome of one check."""

    check: str
    severity: str
    """error (stops training unless allowed), warning (recorded and shown) or info."""
    ok: bool
    title: str
    """One short line for the summary."""
    message: str
    """What was found and what to do about it."""
    details: dict = field(default_factory=dict)
    """Counts and a few examples; JSON-ready."""


@dataclass
class Context:
    """What checks may use besides the splits; ``cache`` shares work between checks."""

    tokenizer: Any = None
    max_length: int = 128
    near_duplicate_threshold: float = 0.9
    cache: dict = field(default_factory=dict)
    check: Check | None = None
    """The check being run (set by :meth:`Check.__call__`)."""

    def result(
        self,
        ok: bool,
        title: str,
        message: str = "",
        details: dict | None = None,
        severity: str | None = None,
    ) -> Finding:
        """A Finding for the running check; ``severity`` defaults to the check's own."""
        assert self.check is not None, "call checks through CHECKS[name](splits, ctx)"
        sev = severity or self.check.severity
        return Finding(self.check.name, sev, ok, title, message, details or {})

    def cached(self, key: str, compute: Callable[[], Any]) -> Any:
        if key not in self.cache:
            self.cache[key] = compute()
        return self.cache[key]


@dataclass(frozen=True)
class Check:
    name: str
    severity: str
    """The most severe level the check reports (a check may report a milder one)."""
    fn: Callable[[Splits, Context], Finding]
    needs_tokenizer: bool = False

    @property
    def doc(self) -> str:
        return (self.fn.__doc__ or "").strip().splitlines()[0] if self.fn.__doc__ else ""

    def __call__(self, splits: Splits, ctx: Context) -> Finding:
        if self.needs_tokenizer and ctx.tokenizer is None:
            return Finding(
                self.name,
                self.severity,
                True,
                "skipped: no tokenizer",
                "this check needs the model's tokenizer",
                {"skipped": "no tokenizer"},
            )
        ctx.check = self
        try:
            return self.fn(splits, ctx)
        finally:
            ctx.check = None


CHECKS: dict[str, Check] = {}
"""Every check by name, in the order they run and are shown."""


def check(
    name: str,
    severity: str,
    *,
    needs_tokenizer: bool = False,
):
    """Register ``fn(splits, ctx) -> Finding`` as the check ``name``. A task names the checks
    that understand its data (``Task.doctor_checks``); its own checks live in its folder."""
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {SEVERITIES}, not {severity!r}")

    def register(fn):
        if name in CHECKS:
            raise ValueError(f"doctor check {name!r} registered twice")
        CHECKS[name] = Check(name, severity, fn, needs_tokenizer)
        return fn

    return register
