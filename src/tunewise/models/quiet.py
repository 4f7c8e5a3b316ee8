"""Loading with transformers without its load reports, warnings and progress bars."""

from __future__ import annotations

import contextlib
import io
import logging


@contextlib.contextmanager
def quiet_transformers():
    """Silence transformers' load report and warnings (a new head is expected to be missing)."""
    import transformers

    level = transformers.logging.get_verbosity()
    bars = transformers.logging.is_progress_bar_enabled()
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()  # "Loading weights" bars are noise in a CLI
    logging.getLogger("transformers").setLevel(logging.ERROR)
    sink = io.StringIO()
    try:
        with contextlib.redirect_stdout(sink):
            yield
    finally:
        transformers.logging.set_verbosity(level)
        if bars:
            transformers.logging.enable_progress_bar()
