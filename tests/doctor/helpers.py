"""Small in-memory splits for the doctor's tests."""

from __future__ import annotations

from tunewise.data import Example
from tunewise.doctor import CHECKS, Context, Finding


def ex(text: str, label="a", pair: str | None = None) -> Example:
    return Example(text, label, pair, "mem")


def exs(texts, label="a") -> list[Example]:
    return [ex(t, label) for t in texts]


def distinct(n: int, prefix: str = "row", label="a") -> list[Example]:
    """``n`` distinct, unrelated multi-word texts."""
    return [
        ex(f"{prefix} number {i} says something {i * 7919 % 1000} else", label) for i in range(n)
    ]


def run(name: str, splits: dict, **ctx) -> Finding:
    return CHECKS[name](splits, Context(**ctx))
