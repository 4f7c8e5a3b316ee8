"""What a recommend run knows beyond the bi-encoder: the catalog, each user's history and
held-out items, the cold-start items (``bundle.json`` written by ``tunewise recommend fit``,
kept as ``model/recommend.json``); and the user tower's text, the same in training,
evaluation and serving."""

from __future__ import annotations

import json
from pathlib import Path

BUNDLE_FILE = "recommend.json"
SEP = " | "


def history_text(pieces: list[str], recent: int) -> str:
    """The user tower's input: the texts of the ``recent`` latest liked items, most recent
    first (so truncation at max_length drops the oldest)."""
    return SEP.join(reversed([p for p in pieces if p][-recent:]))


def user_pieces(bundle: dict, user: dict, upto: int | None = None) -> list[str]:
    """The texts of a user's liked training items in time order (with their review when the
    data has reviews), the first ``upto`` of them."""
    texts = bundle["items"]["texts"]
    idx = user["train"][:upto] if upto is not None else user["train"]
    reviews = user.get("reviews") or []
    return [
        texts[i] + (f" Review: {reviews[n]}" if n < len(reviews) and reviews[n] else "")
        for n, i in enumerate(idx)
    ]


def read_bundle(path: str | Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))
