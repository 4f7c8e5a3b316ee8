"""Loading backbones and tokenizers with transformers, quietly and with clear errors."""

from __future__ import annotations

from tunewise.errors import UserError
from tunewise.models.quiet import quiet_transformers
from tunewise.models.registry import ResolvedModel, hub_failure, resolve_model

__all__ = ["load_pretrained", "load_tokenizer", "quiet_transformers"]


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
