"""``Text``: a request field that must be real Unicode text (no lone surrogates).

A lone surrogate (``"\\ud800"`` in JSON) has no UTF-8 form; a tokenizer raises on it, and
inside a micro-batch that failed every request batched with it. Request bodies refuse it
field by field (422 naming the field) before a text joins a batch.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator


def unicode_text(value: str) -> str:
    """``value`` unchanged, or a ValueError naming the first lone surrogate."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ValueError(
            f"a lone surrogate (U+{ord(value[e.start]):04X} at character {e.start + 1}) is not "
            "valid Unicode text; send each surrogate with its pair or remove it"
        ) from None
    return value


Text = Annotated[str, AfterValidator(unicode_text)]
"""A string that is valid Unicode (no lone surrogates)."""
