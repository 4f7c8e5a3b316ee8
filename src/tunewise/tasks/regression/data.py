"""Reading a regression run's files: texts (and pairs) with a numeric target."""

from __future__ import annotations

import math
from pathlib import Path

from tunewise.data.examples import Example
from tunewise.data.readers import read_examples
from tunewise.errors import UserError
from tunewise.tasks.base import TaskData
from tunewise.tasks.text import columns


def to_number(ex: Example, label_column: str) -> float:
    """The example's target as a float; anything else is a UserError naming file and line."""
    try:
        value = float(ex.label)
    except (TypeError, ValueError):
        raise UserError(
            f"{ex.where}: target {ex.label!r} in column {label_column!r} is not a number; "
            "regression needs a numeric target on every row"
        ) from None
    if not math.isfinite(value):
        raise UserError(f"{ex.where}: target {ex.label!r} in column {label_column!r} is not finite")
    return value


def read_file(path: Path, data, *, require_label: bool = True) -> list[Example]:
    """Rows of ``path`` with their targets as floats (``Example.label``)."""
    cols = columns(data)
    exs = read_examples(path, require_label=require_label, multi_label=False, **cols)
    for ex in exs:
        if ex.label is not None:
            ex.label = to_number(ex, cols["label_column"])
    return exs


def read_data(data) -> TaskData:
    """Read train, dev and test as configured; every target must be a number."""
    if data.train is None:
        raise UserError("no training data: give --train FILE")
    train = read_file(data.train, data)
    dev = read_file(data.dev, data) if data.dev is not None else None
    test = read_file(data.test, data) if data.test is not None else None
    return TaskData(train, dev, test, {})
