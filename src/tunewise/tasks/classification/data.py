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


def read_data(data, *, multi_label: bool) -> TaskData:
    """Read train, dev and test as configured; the label map comes from the whole train file
    and dev/test files may not add labels.

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
    dev = test = None
    if data.dev is not None:
        dev = read_file(data.dev, data, require_label=True, multi_label=multi_label)
        check_labels(dev, labels, data.dev)
    if data.test is not None:
        test = read_file(data.test, data, require_label=True, multi_label=multi_label)
        check_labels(test, labels, data.test)
    return TaskData(train, dev, test, {"labels": labels})
