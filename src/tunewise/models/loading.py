"""Loading backbones and tokenizers with transformers, quietly and with clear errors."""

from __future__ import annotations

import contextlib
import io
import logging

from tunewise.errors import UserError
from tunewise.models.registry import ResolvedModel, hub_failure, resolve_model


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


def load_tokenizer(path: str):
    """The fast tokenizer of a model directory or hub id."""
    from transformers import AutoTokenizer

    with quiet_transformers():
        return AutoTokenizer.from_pretrained(path)


def load_pretrained(name: str, load_fn, **kwargs):
    """Resolve ``name`` and call ``load_fn(path, **kwargs)``; hub failures become one line.

    Returns:
        (ResolvedModel, loaded object)
    """
    resolved: ResolvedModel = resolve_model(name)
    try:
        with quiet_transformers():
            obj = load_fn(resolved.path, **kwargs)
    except OSError as e:
        if resolved.source == "hub":
            raise hub_failure(name, e) from None
        raise UserError(f"model {name!r}: could not load {resolved.path} ({e})") from None
    return resolved, obj
