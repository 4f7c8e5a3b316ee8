"""Dynamic masking for the masked-LM objective: whole words (English) and characters (Chinese).

Every token carries the index of the word it belongs to (the fast tokenizer's ``word_ids``; the
BERT pre-tokenizer makes each CJK character a word of its own), so masking whole words masks
every piece of an English word together and single characters in Chinese text. A row's masks
come from a generator seeded by (seed, row, visit): a row gets new masks every time the loop
sees it (dynamic masking, as RoBERTa) while held-out rows keep the same masks before and after
training, so their perplexities compare.
"""

from __future__ import annotations

import numpy as np

IGNORE = -100


def choose_masks(
    word_ids: list[int],
    prob: float,
    rng: np.random.Generator,
    whole_word: bool = True,
) -> np.ndarray:
    """Positions to predict in one row: ``prob`` of its words (at least one), all their tokens.

    Args:
        word_ids: per token, its word index; -1 for special tokens (never masked).
    """
    w = np.asarray(word_ids)
    if not whole_word:
        w = np.where(w >= 0, np.arange(len(w)), -1)
    words = np.unique(w[w >= 0])
    if len(words) == 0:
        return np.zeros(len(w), dtype=bool)
    k = max(1, int(round(prob * len(words))))
    picked = rng.choice(words, size=min(k, len(words)), replace=False)
    return np.isin(w, picked) & (w >= 0)


def corrupt(
    ids: list[int],
    masked: np.ndarray,
    rng: np.random.Generator,
    mask_id: int,
    vocab_size: int,
    special_ids: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """BERT's 80/10/10: masked positions become [MASK] (80%), a random token (10%) or stay.

    Returns:
        (input ids, labels: the original token at masked positions, -100 elsewhere)
    """
    x = np.asarray(ids, dtype=np.int64).copy()
    labels = np.where(masked, x, IGNORE)
    u = rng.random(len(x))
    x[masked & (u < 0.8)] = mask_id
    rand = masked & (u >= 0.8) & (u < 0.9)
    if rand.any():
        pool = np.setdiff1d(np.arange(vocab_size), special_ids)
        x[rand] = rng.choice(pool, size=int(rand.sum()))
    return x, labels
