"""Size checks: very short texts, and a test set too small to tell results apart."""

from __future__ import annotations

import math
import unicodedata
from collections import Counter

from tunewise.doctor.registry import Context, Splits, check
from tunewise.doctor.text import first, flat_labels, present, show

MIN_CHARS = 3
SPACELESS = ("CJK", "HIRAGANA", "KATAKANA", "HANGUL", "THAI", "LAO", "KHMER", "MYANMAR")
MAX_CI_WIDTH = 0.05
EXPECTED_ACCURACY = 0.85


def _is_short(text: str) -> bool:
    text = text.strip()
    if len(text) < MIN_CHARS:
        return True
    # a single word is short, except in scripts written without spaces (Chinese, Japanese)
    return len(text.split()) == 1 and not any(_spaceless(c) for c in text)


def _spaceless(char: str) -> bool:
    return ord(char) > 0x2E7F and unicodedata.name(char, "").startswith(SPACELESS)


@check("short_texts", "warning")
def short_texts(splits: Splits, ctx: Context):
    """Empty and very short texts (under 3 characters or a single word)."""
    details: dict = {}
    parts = []
    for name in present(splits):
        short = [ex for ex in splits[name] if _is_short(ex.text)]
        empty = sum(not ex.text.strip() for ex in short)
        details[name] = {
            "short_texts": len(short),
            "empty_texts": empty,
            "examples": [{"text": show(ex), "where": ex.where} for ex in first(short)],
        }
        if short:
            parts.append(f"{name}: {len(short)} ({empty} empty)")
    if not parts:
        return ctx.result(True, "no empty or very short texts", "", details)
    return ctx.result(
        False,
        "short texts: " + ", ".join(parts),
        "; ".join(parts) + ": empty or one-word texts carry little to learn from; "
        "check the text column and drop broken rows.",
        details,
    )


def ci_width(p: float, n: int) -> float:
    """Width of the normal 95% interval of an accuracy ``p`` measured on ``n`` rows."""
    return 2 * 1.96 * math.sqrt(p * (1 - p) / n)


@check("test_size", "warning")
def test_size(splits: Splits, ctx: Context):
    """A test set too small to separate results that matter (95% interval of accuracy)."""
    test = splits.get("test") or []
    if not test:
        return ctx.result(True, "no test split", "", {"rows": 0}, severity="info")
    counts = Counter(flat_labels(test))
    majority = max(counts.values()) / len(test) if counts else 0.0
    # a useful model beats the majority class; 0.85 is a typical fine-tuned accuracy
    p = max(majority, EXPECTED_ACCURACY)
    p = min(p, 0.99)
    width = ci_width(p, len(test))
    needed = math.ceil(1.96**2 * p * (1 - p) / 0.01**2)
    details = {
        "rows": len(test),
        "expected_accuracy": round(p, 4),
        "ci95_width": round(width, 4),
        "rows_for_1_point": needed,
    }
    if width <= MAX_CI_WIDTH:
        return ctx.result(
            True, f"test set of {len(test)}: 95% interval ±{width / 2:.1%}", "", details
        )
    return ctx.result(
        False,
        f"test set of {len(test)} rows: accuracy ±{width / 2:.1%} (95%)",
        f"at accuracy {p:.0%} the 95% interval is {width:.1%} wide, so smaller differences "
        f"are noise; about {needed} test rows would give ±1 point.",
        details,
    )
