"""Credentials never land in a run directory: redaction of command lines and configs.

``run.json`` keeps the command line and ``config.yaml`` the resolved config; a tracking URI
like ``https://user:password@host`` or a ``--token`` flag would put a secret on disk beside
the model, where it gets shared. Both are written through these functions.
"""

from __future__ import annotations

import re

MASK = "***"
# a name that ends in a secret word (hf_token, api-key, password), never one that merely
# contains it (token_format, max_new_tokens, tokenizer)
_SECRET_NAME = re.compile(
    r"(^|[_.-])(pass(word|wd)?|secret|token|api[_-]?key|access[_-]?key|credentials?)$", re.I
)
_URL_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:/@\s]*):[^@/\s]*@")
_QUERY_SECRET = re.compile(
    r"(?P<k>[?&](?:[^=&\s]*(?:token|key|secret|password|sig)[^=&\s]*)=)[^&\s#]*", re.I
)
_KNOWN_TOKENS = re.compile(r"\b(hf_[A-Za-z0-9]{20,}|sk-[A-Za-z0-9_-]{16,}|ghp_[A-Za-z0-9]{20,})\b")


def redact_text(text: str) -> str:
    """``scheme://user:pass@host`` -> ``scheme://user:***@host``; secret query parameters and
    well-known token shapes (``hf_...``, ``sk-...``, ``ghp_...``) masked."""
    text = _URL_USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    text = _QUERY_SECRET.sub(lambda m: f"{m['k']}{MASK}", text)
    return _KNOWN_TOKENS.sub(MASK, text)


def redact_argv(argv: list[str]) -> list[str]:
    """A command line with the values of secret-looking flags (``--token X``,
    ``--api-key=X``, ``track.password=X``) and URL credentials masked."""
    out: list[str] = []
    hide_next = False
    for arg in argv:
        arg = str(arg)
        if hide_next:
            out.append(MASK)
            hide_next = False
            continue
        name, eq, _ = arg.partition("=")
        if eq and _SECRET_NAME.search(name.lstrip("-")):
            out.append(f"{name}={MASK}")
            continue
        if arg.startswith("--") and not eq and _SECRET_NAME.search(arg[2:]):
            # a flag that names a secret: its value is the next argument (but an env var's
            # *name*, as in --api-key-env, is not a secret)
            hide_next = not arg.endswith("-env")
        out.append(redact_text(arg))
    return out


def redact_config(value, key: str = ""):
    """A copy of a config tree with secret-looking keys' values and URL credentials masked."""
    if isinstance(value, dict):
        return {k: redact_config(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_config(v, key) for v in value]
    if isinstance(value, str):
        if key and _SECRET_NAME.search(key) and not key.endswith("_env") and value:
            return MASK
        return redact_text(value)
    return value
