"""What a run returns."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class RunResult:
    """What ``train`` returns: where the run is and its final metrics."""

    path: Path
    metrics: dict
    main: bool = True
    """False in the non-main processes of a distributed run (they print nothing)."""
