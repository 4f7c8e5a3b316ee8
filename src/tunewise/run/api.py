"""``tunewise.load(run)``: the predictor of a finished run, whatever its task."""

from __future__ import annotations

from pathlib import Path

from tunewise.rundir import model_dir_of, read_meta

# Loaders that claim a run before its task's predictor does: a layer above ``run`` (continual's
# lora-per-task router) registers one; each returns a predictor or None (not its kind of run).
LOADERS: list = []


def register_loader(fn) -> None:
    if fn not in LOADERS:
        LOADERS.append(fn)


def load(path: str | Path, _plain: bool = False, **kw):
    """Load a finished run (or its model directory) for prediction: its task's predictor
    (``tunewise.tasks.base.Predictor``): ``predict(inputs)``, ``predict_rows``, ``evaluate_file``.

    Args:
        kw: passed to the task's predictor (``batch_size``, ``loader``).
        _plain: the task's own predictor, never a registered loader's (the experts of a
            routed run load this way).
    """
    from tunewise.tasks import get_task

    for loader in () if _plain else LOADERS:
        if (pred := loader(path, **kw)) is not None:
            return pred
    _, model_dir = model_dir_of(path)
    return get_task(read_meta(model_dir).task).predictor(path, **kw)
