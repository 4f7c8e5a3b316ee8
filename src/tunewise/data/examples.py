"""The canonical classification example, label normalization, and exact-duplicate removal."""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass

Label = str | list[str] | None


@dataclass
class Example:
    """One classification example, whatever file format it came from."""

    text: str
    label: Label
    """A string; a list of strings for multi-label data; None when the file has no labels."""
    text_pair: str | None = None
    where: str = ""
    """Where it came from, e.g. ``train.csv line 7``, for error messages."""


def label_to_str(value: object) -> str | None:
    """One label value as a string: ``1`` and ``1.0`` -> ``"1"``; None, NaN and blank -> None.

    Raises:
        TypeError: for values that cannot be a single label (lists, objects).
    """
    if value is None:
        return None
    if isinstance(value, bool):  # before int: bool is an int subclass
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        value = value.strip()
        return value or None
    raise TypeError(type(value).__name__)


def normalize_text(text: str) -> str:
    """The form two texts are compared in for duplicates: NFKC, lowercase, one space."""
    return " ".join(unicodedata.normalize("NFKC", text).lower().split())


def dedup_key(example: Example) -> tuple[str, str | None]:
    """Examples with equal keys are duplicates (both texts of a pair must match)."""
    pair = None if example.text_pair is None else normalize_text(example.text_pair)
    return normalize_text(example.text), pair


def _label_key(label: Label) -> object:
    if isinstance(label, list):
        return tuple(sorted(set(label)))
    return label


def dedupe(examples: list[Example]) -> tuple[list[Example], dict]:
    """Remove exact duplicates (after :func:`normalize_text`), keeping the first copy.

    A text that occurs with different labels is dropped entirely: no copy can be trusted.

    Returns:
        The kept examples in their original order, and
        ``{"duplicates_removed": n, "conflicts_removed": m}`` (m counts every dropped copy).
    """
    labels_of: dict[tuple, set] = {}
    for ex in examples:
        labels_of.setdefault(dedup_key(ex), set()).add(_label_key(ex.label))
    kept: list[Example] = []
    seen: set[tuple] = set()
    duplicates = conflicts = 0
    for ex in examples:
        key = dedup_key(ex)
        if len(labels_of[key]) > 1:
            conflicts += 1
        elif key in seen:
            duplicates += 1
        else:
            seen.add(key)
            kept.append(ex)
    return kept, {"duplicates_removed": duplicates, "conflicts_removed": conflicts}
