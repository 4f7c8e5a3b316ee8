"""Dotted option flags: ``tunewise train --lora.r 8 --train.lr=3e-4``.

They become the dotted overrides ``train`` already takes (``method.lora.r=8``, ``train.lr=3e-4``),
so one code path validates them. A flag whose first part names a method's options section
(``lora``, ``adalora``, ``prefix`` ...) lives under ``method.``; a config section name
(``model``, ``data``, ``task``, ``train``, ``method``, ``doctor``) stays as it is.
"""

from __future__ import annotations

from tunewise.errors import UserError

VERBS = {"train", "curve"}


def _is_dotted(tok: str) -> bool:
    name = tok[2:].split("=", 1)[0]
    return tok.startswith("--") and "." in name and not name.startswith(".")


def expand_dotted_flags(argv: list[str]) -> list[str]:
    """Rewrite dotted ``--a.b VALUE`` / ``--a.b=VALUE`` flags of the verbs that take overrides
    into ``a.b=VALUE`` arguments; a dotted flag without a value means ``true``."""
    if not argv or argv[0] not in VERBS or not any(_is_dotted(t) for t in argv):
        return argv
    from tunewise.config import Config
    from tunewise.methods.base import option_keys

    sections = set(Config.model_fields)
    method_keys = option_keys()
    out, i = [argv[0]], 1
    while i < len(argv):
        tok = argv[i]
        if tok == "--":
            out.extend(argv[i:])
            break
        if not _is_dotted(tok):
            out.append(tok)
            i += 1
            continue
        key, eq, value = tok[2:].partition("=")
        if not eq:
            nxt = argv[i + 1] if i + 1 < len(argv) else None
            if nxt is None or (nxt.startswith("--") and len(nxt) > 2):
                value = "true"
            else:
                value, i = nxt, i + 1
        head = key.split(".", 1)[0]
        if head in method_keys:
            key = "method." + key
        elif head not in sections:
            raise UserError(
                f"--{key}: unknown option section {head!r}; dotted flags start with a config "
                f"section ({', '.join(sorted(sections - {'out'}))}) or a method's options "
                f"({', '.join(sorted(method_keys))})"
            )
        out.append(f"{key}={value}")
        i += 1
    return out
