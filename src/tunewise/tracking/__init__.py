"""Experiment tracking: TensorBoard, MLflow, Weights & Biases (offline), selected by name.

Every backend is a module of this package, named as the user selects it (``--track
tensorboard,mlflow,wandb``), with a ``Backend`` class that has the four methods of
:class:`Tracker`. Only the main process of a run tracks. The run directory stays the
source of truth; trackers get a copy of what it holds.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from tunewise.errors import UserError

NAMES = ("tensorboard", "mlflow", "wandb")


class Tracker:
    """The interface every backend implements (this base tracks nothing)."""

    def params(self, params: dict) -> None:
        """The run's resolved config, flattened to dotted keys."""

    def step(self, rec: dict) -> None:
        """One record of the training log: ``{"type": "train"|"eval", "step", ...}``."""

    def final(self, metrics: dict, report: list[Path], model: Path | None) -> None:
        """Final metrics (flat dotted keys -> numbers), the report files and the model dir."""

    def close(self, status: str) -> None:
        """End the tracked run: completed, failed or interrupted."""


def numeric(rec: dict) -> dict:
    """The numbers of a record, keyed ``split/name`` for evaluations and ``train/name`` else."""
    prefix = "train"
    if rec.get("type") == "eval":
        # the train-subset evaluation (overfitting gap) must not mix with the training loss
        prefix = "train_probe" if rec.get("split") == "train" else rec.get("split", "eval")
    return {
        f"{prefix}/{k}": float(v)
        for k, v in rec.items()
        if k not in ("step", "epoch", "type", "split", "best", "rows")
        and isinstance(v, (int, float))
        and not isinstance(v, bool)
    }


class Trackers(Tracker):
    """Several backends behind one Tracker; a backend that fails mid-run warns, not kills."""

    def __init__(self, backends: list[Tracker], warn=None):
        self.backends = backends
        self.warn = warn or (lambda line: None)

    def _each(self, method: str, *args) -> None:
        for b in list(self.backends):
            try:
                getattr(b, method)(*args)
            except Exception as e:  # a tracker must never lose the training run
                self.warn(f"warning [track]: {type(b).__module__.rsplit('.', 1)[-1]}: {e}")
                self.backends.remove(b)

    def params(self, params):
        self._each("params", params)

    def step(self, rec):
        self._each("step", rec)

    def final(self, metrics, report, model):
        self._each("final", metrics, report, model)

    def close(self, status):
        self._each("close", status)


def open_trackers(track, run_path: Path, config: dict, warn=None) -> Trackers:
    """Start the backends ``track.backends`` names for the run at ``run_path``.

    Args:
        track: the config's ``track`` section.
        config: the resolved config as a nested dict (logged as params).

    Raises:
        UserError: a backend's library is not installed.
    """
    from tunewise.registry.store import _flat

    backends = []
    for name in dict.fromkeys(track.backends):
        try:
            module = importlib.import_module(f"tunewise.tracking.{name}")
        except ImportError as e:
            raise UserError(
                f"--track {name}: the {name} library is not importable ({e}); "
                f"`pip install -r requirements.txt`"
            ) from None
        backends.append(module.Backend(track, Path(run_path), config))
    trackers = Trackers(backends, warn)
    trackers.params(_flat(config))
    return trackers
