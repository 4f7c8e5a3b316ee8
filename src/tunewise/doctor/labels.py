"""Label checks: unseen labels, rare classes, imbalance, token tags fed as classes."""

from __future__ import annotations

import re
from collections import Counter

from tunewise.doctor.registry import Context, Splits, check
from tunewise.doctor.text import first, flat_labels, present

RARE = 10
"""A class with fewer train examples than this is rare."""
MIN_SHARE = 0.05
MAX_RATIO = 20
TAG = re.compile(r"^(?:[BIESLU]-.+|O)$")


def _train_counts(splits: Splits) -> Counter:
    return Counter(flat_labels(splits.get("train") or []))


@check("unseen_labels", "error")
def unseen_labels(splits: Splits, ctx: Context):
    """Labels in dev/test that train never shows."""
    known = set(_train_counts(splits))
    details: dict = {}
    parts = []
    for name in present(splits):
        if name == "train":
            continue
        counts = Counter(lab for lab in flat_labels(splits[name]) if lab not in known)
        details[name] = {"unseen_labels": sorted(counts), "rows": sum(counts.values())}
        if counts:
            parts.append(f"{name}: {', '.join(repr(k) for k in first(sorted(counts)))}")
    if not parts:
        return ctx.result(True, "every dev/test label occurs in train", "", details)
    return ctx.result(
        False,
        "labels missing from train: " + "; ".join(parts),
        "; ".join(parts) + " never occur in train, so no model can predict them; "
        "check the label column, or add train examples of those classes.",
        details,
    )


@check("rare_classes", "warning")
def rare_classes(splits: Splits, ctx: Context):
    """Classes with fewer than 10 train examples."""
    counts = _train_counts(splits)
    rare = {k: v for k, v in sorted(counts.items(), key=lambda kv: kv[1]) if v < RARE}
    details = {"min_examples": RARE, "rare_classes": rare}
    if not rare:
        return ctx.result(True, f"every class has at least {RARE} train examples", "", details)
    shown = ", ".join(f"{k!r} ({v})" for k, v in first(rare.items()))
    return ctx.result(
        False,
        f"{len(rare)} classes with < {RARE} train examples",
        f"{shown}{' ...' if len(rare) > 5 else ''}: too few to learn or to score reliably; "
        "add examples or merge classes.",
        details,
    )


@check("imbalance", "warning")
def imbalance(splits: Splits, ctx: Context):
    """Share of the smallest class (warning below 5% or a max/min ratio above 20)."""
    counts = _train_counts(splits)
    if len(counts) < 2:
        return ctx.result(True, "fewer than two classes in train", "", {"counts": dict(counts)})
    total = sum(counts.values())
    (small, n_min), (big, n_max) = (
        min(counts.items(), key=lambda kv: kv[1]),
        counts.most_common(1)[0],
    )
    share, ratio = n_min / total, n_max / n_min
    details = {
        "smallest": {"label": small, "count": n_min, "share": round(share, 4)},
        "largest": {"label": big, "count": n_max, "share": round(n_max / total, 4)},
        "ratio": round(ratio, 2),
    }
    if share >= MIN_SHARE and ratio <= MAX_RATIO:
        return ctx.result(True, f"smallest class {share:.1%} of train", "", details)
    return ctx.result(
        False,
        f"{small!r} is only {share:.1%} of train ({ratio:.0f}x fewer than {big!r})",
        "accuracy hides the small classes here: read macro-F1, and consider "
        "task.class_weights=balanced.",
        details,
    )


@check("token_tags", "error")
def token_tags(splits: Splits, ctx: Context):
    """Labels that look like token tags (B-/I-/O): NER data fed as classification."""
    train = splits.get("train") or []
    labels = set(flat_labels(train))
    tags = sorted(lab for lab in labels if TAG.match(lab))
    tag_share = len(tags) / len(labels) if labels else 0.0
    one_word = sum(len(ex.text.split()) == 1 for ex in train) / len(train) if train else 0.0
    has_bio = any(t[:2] in ("B-", "I-") for t in tags) or "O" in labels
    details = {
        "tag_like_labels": first(tags, 10),
        "tag_like_share": round(tag_share, 4),
        "single_word_rows_share": round(one_word, 4),
    }
    bad = (tag_share >= 0.5 and has_bio and len(tags) >= 2) or (one_word >= 0.8 and has_bio)
    if not bad:
        return ctx.result(True, "labels look like classes", "", details)
    return ctx.result(
        False,
        "labels look like token tags (B-/I-/O)",
        f"labels such as {', '.join(first(tags, 3))} are per-token tags: this is token "
        "classification (NER) data; sentence classification would learn nothing useful.",
        details,
    )
