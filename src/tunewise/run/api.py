"""``tunewise.load(run)``: the predictor of a finished run, whatever its task."""

from __future__ import annotations

from pathlib import Path

from tunewise.rundir import model_dir_of, read_meta


def load(path: str | Path, **kw):
    """Load a finished run (or its model directory) for prediction: its task's predictor
    (``tunewise.tasks.base.Predictor``): ``predict(inputs)``, ``predict_rows``, ``evaluate_file``.

    Args:
        kw: passed to the task's predictor (``batch_size``, ``loader``).
    """
    from tunewise.tasks import get_task

    _, model_dir = model_dir_of(path)
    return get_task(read_meta(model_dir).task).predictor(path, **kw)
