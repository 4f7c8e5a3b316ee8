"""The label map (label string <-> class index) and checks of labels across splits."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from tunewise.data.examples import Example
from tunewise.errors import UserError

_INT = re.compile(r"[+-]?\d+")


def labels_of(example: Example) -> list[str]:
    """The labels of one example as a list (empty when it has none)."""
    if example.label is None:
        return []
    if isinstance(example.label, list):
        return example.label
    return [example.label]


def build_label_map(examples: Iterable[Example]) -> list[str]:
    """The sorted list of distinct labels; a label's index in it is its class id.

    Deterministic whatever the order of the examples: when every label looks like an
    integer they sort numerically (``"2"`` before ``"10"``), otherwise as strings.
    Multi-label examples contribute every label in their list.
    """
    found = {label for ex in examples for label in labels_of(ex)}
    if found and all(_INT.fullmatch(label) for label in found):
        return sorted(found, key=lambda s: (int(s), s))
    return sorted(found)


def check_labels(examples: Iterable[Example], labels: list[str], path: str | Path) -> None:
    """Fail when an example (of dev or test) has a label that train does not have.

    Raises:
        UserError: naming the first offending row, the unknown labels and train's labels.
    """
    known = set(labels)
    first: Example | None = None
    unknown: dict[str, None] = {}  # ordered set
    rows = 0
    for ex in examples:
        bad = [label for label in labels_of(ex) if label not in known]
        if bad:
            first = first or ex
            rows += 1
            unknown.update(dict.fromkeys(bad))
    if first is None:
        return
    at = first.where or str(path)
    names = ", ".join(repr(x) for x in list(unknown)[:10]) + (", ..." if len(unknown) > 10 else "")
    shown = ", ".join(labels[:20]) + (", ..." if len(labels) > 20 else "")
    raise UserError(
        f"{at}: label {list(unknown)[0]!r} does not occur in the training data; "
        f"{rows} row(s) of {path} have labels train lacks ({names}); "
        f"train's labels: {shown}"
    )
