"""Reading a classification run's files: texts (and pairs) with labels, the label map."""

from __future__ import annotations

from pathlib import Path

from tunewise.data.examples import Example
from tunewise.data.labels import build_label_map, check_labels
from tunewise.data.readers import read_examples
from tunewise.errors import UserError
from tunewise.tasks.base import TaskData
from tunewise.tasks.text import columns


def read_file(path: Path, data, *, require_label: bool, multi_label: bool) -> list[Example]:
    return read_examples(
        path, require_label=require_label, multi_label=multi_label, **columns(data)
    )


def read_data(data, *, multi_label: bool, oos_label: str | None = None) -> TaskData:
    """Read train, dev and test as configured; the label map comes from the whole train file
    and dev/test files may not add labels, except ``oos_label``: when train lacks it, its
    dev/test rows are kept out of the splits (``TaskData.held_out``) to score abstention.

    Raises:
        UserError: no train file, a bad file or row, a single class, unknown dev/test labels.
    """
    if data.train is None:
        raise UserError("no training data: give --train FILE")
    train = read_file(data.train, data, require_label=True, multi_label=multi_label)
    labels = build_label_map(train)
    if not labels:
        raise UserError(f"{data.train}: no labels in column {data.label_column!r}")
    if len(labels) == 1:
        raise UserError(
            f"{data.train}: only one class ({labels[0]!r}) in column {data.label_column!r}; "
            "classification needs at least two"
        )
    if oos_label is not None and multi_label:
        raise UserError("--oos-label is for single-label classification, not --multi-label")
    hold = oos_label is not None and oos_label not in labels
    splits: dict = {"dev": None, "test": None}
    held: dict = {}
    for name in splits:
        path = getattr(data, name)
        if path is None:
            continue
        rows = read_file(path, data, require_label=True, multi_label=multi_label)
        if hold:
            held[name] = [e for e in rows if e.label == oos_label]
            rows = [e for e in rows if e.label != oos_label]
        check_labels(rows, labels, path)
        splits[name] = rows or None
    info: dict = {"labels": labels}
    if oos_label is not None:
        info["oos"] = {
            "label": oos_label,
            "in_train": not hold,
            "held_out": {k: len(v) for k, v in held.items()},
        }
    return TaskData(train, splits["dev"], splits["test"], info, held_out=held)
