"""The runner every task shares (``train``), and loading a finished run (``load``)."""

from tunewise.run.api import load
from tunewise.run.runner import RunResult, train

__all__ = ["RunResult", "load", "train"]
