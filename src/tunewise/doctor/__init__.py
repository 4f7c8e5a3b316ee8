"""The doctor: data checks before training, one small registered function per check.

Each check lives in the module of its kind and registers itself with ``@check(name,
severity)``; importing this package imports them all, in the order they run.
"""

# Importing a module registers its checks; this order is the order they run and are shown.
# isort: off
from tunewise.doctor import overlap  # noqa: F401
from tunewise.doctor import near  # noqa: F401
from tunewise.doctor import labels  # noqa: F401
from tunewise.doctor import sizes  # noqa: F401
from tunewise.doctor import tokens  # noqa: F401

# isort: on
from tunewise.doctor.preflight import preflight
from tunewise.doctor.registry import CHECKS, Check, Context, Finding, check
from tunewise.doctor.report import DoctorReport, run_doctor
from tunewise.doctor.summary import print_summary

__all__ = [
    "CHECKS",
    "Check",
    "Context",
    "DoctorReport",
    "Finding",
    "check",
    "preflight",
    "print_summary",
    "run_doctor",
]
