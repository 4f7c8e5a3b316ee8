"""User-facing errors: a mistake in the user's input, not a bug in tunewise."""

from __future__ import annotations


class UserError(Exception):
    """A mistake in what the user gave us (file, flag, config, request).

    The CLI prints ``str(error)`` as one line and exits with code 2; it never shows a
    traceback for these. The message names the file, line/row and column or field, and
    says what to do.
    """


def where(path: object, line: int | None = None, column: str | None = None) -> str:
    """Format a location like ``train.csv line 7, column 'text'``."""
    out = str(path)
    if line is not None:
        out += f" line {line}"
    if column is not None:
        out += f"{',' if line is not None else ''} column {column!r}"
    return out
