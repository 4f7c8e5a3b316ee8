"""The rich Console every table goes through: full width when the output is not a terminal.

Rich falls back to 80 columns when it writes to a file or a pipe, and cuts table cells to fit
(``tfidf_logr…`` in a log). Off a terminal there is no screen to fit, so the width is made
large enough that a table keeps its natural width and nothing is cut.
"""

from __future__ import annotations

import os
import sys

WIDE = 1000
"""Columns used off a terminal: wider than any table tunewise prints."""


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # a closed or replaced stream
        return False


def make_console(stderr: bool = False, **kwargs):
    """A ``rich.console.Console`` for stdout (or stderr) that never cuts lines off a terminal.

    ``COLUMNS`` in the environment still wins, as it does for rich itself."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    if "width" not in kwargs and not _isatty(stream) and "COLUMNS" not in os.environ:
        kwargs["width"] = WIDE
    return Console(stderr=stderr, **kwargs)
