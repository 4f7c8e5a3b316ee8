"""Exact duplicates: inside a split, shared between splits, splits that are the same data."""

from __future__ import annotations

from tunewise.doctor.registry import Context, Splits, check
from tunewise.doctor.text import first, groups, label_key, pairs, present, show

SAME_SPLIT_SHARE = 0.5
"""A dev/test split with at least this share of its rows in the other split is the same data."""


def _dup_counts(g: dict) -> tuple[int, int]:
    repeated = [len(v) for v in g.values() if len(v) > 1]
    return len(repeated), sum(n - 1 for n in repeated)


@check("duplicates", "warning")
def duplicates(splits: Splits, ctx: Context):
    """Exact duplicates within each split, after normalization."""
    details: dict = {}
    total = 0
    for name in present(splits):
        g = groups(splits, name, ctx)
        texts, extra = _dup_counts(g)
        raw_texts, raw_extra = _dup_counts(groups(splits, name, ctx, normalized=False))
        total += extra
        worst = sorted((v for v in g.values() if len(v) > 1), key=len, reverse=True)
        details[name] = {
            "rows": len(splits[name]),
            "duplicated_texts": texts,
            "extra_copies": extra,
            "raw_duplicated_texts": raw_texts,
            "raw_extra_copies": raw_extra,
            "examples": [
                {"text": show(v[0]), "copies": len(v), "where": first(e.where for e in v)}
                for v in first(worst)
            ],
        }
    parts = [
        f"{n}: {d['duplicated_texts']} texts repeated ({d['extra_copies']} extra copies)"
        for n, d in details.items()
        if d["extra_copies"]
    ]
    if not parts:
        return ctx.result(True, "no duplicate texts", "", details)
    return ctx.result(
        False,
        f"{total} duplicate rows",
        "; ".join(parts) + ". Duplicates weigh some texts more in training and in metrics; "
        "`tunewise data dedupe` removes them.",
        details,
    )


def _shared(splits: Splits, ctx: Context, a: str, b: str, normalized: bool = True) -> list:
    ga, gb = groups(splits, a, ctx, normalized), groups(splits, b, ctx, normalized)
    return [k for k in gb if k in ga]


@check("cross_split_overlap", "warning")
def cross_split_overlap(splits: Splits, ctx: Context):
    """The same normalized text in two splits (train-dev, train-test, dev-test)."""
    details: dict = {"pairs": {}}
    parts = []
    for a, b in pairs(splits):
        keys = _shared(splits, ctx, a, b)
        ga, gb = groups(splits, a, ctx), groups(splits, b, ctx)
        rows_b = sum(len(gb[k]) for k in keys)
        details["pairs"][f"{a}-{b}"] = {
            "shared_texts": len(keys),
            "raw_shared_texts": len(_shared(splits, ctx, a, b, normalized=False)),
            f"shared_rows_of_{b}": rows_b,
            f"shared_share_of_{b}": round(rows_b / len(splits[b]), 4),
            "examples": [
                {"text": show(gb[k][0]), a: ga[k][0].where, b: gb[k][0].where} for k in first(keys)
            ],
        }
        if keys:
            parts.append(f"{a}-{b}: {len(keys)} texts ({rows_b / len(splits[b]):.1%} of {b})")
    if not parts:
        return ctx.result(True, "no text shared between splits", "", details)
    return ctx.result(
        False,
        "texts shared between splits: " + ", ".join(p.split(" (")[0] for p in parts),
        "; ".join(parts) + ". Scores on a split that shares texts with train overstate "
        "how the model does on new text; remove them from dev/test.",
        details,
    )


@check("same_splits", "error")
def same_splits(splits: Splits, ctx: Context):
    """Splits that are the same data: most of a dev/test split occurs in an earlier split."""
    details: dict = {"pairs": {}, "threshold": SAME_SPLIT_SHARE}
    bad = []
    for a, b in pairs(splits):
        keys = set(_shared(splits, ctx, a, b))
        gb = groups(splits, b, ctx)
        rows = sum(len(gb[k]) for k in keys)
        share = rows / len(splits[b])
        identical = [ex.text for ex in splits[a]] == [ex.text for ex in splits[b]] and [
            ex.label for ex in splits[a]
        ] == [ex.label for ex in splits[b]]
        details["pairs"][f"{a}-{b}"] = {
            f"{b}_rows_in_{a}": rows,
            f"{b}_share_in_{a}": round(share, 4),
            "identical": identical,
        }
        if identical or share >= SAME_SPLIT_SHARE:
            bad.append(
                f"{b} is identical to {a}" if identical else f"{share:.0%} of {b} rows occur in {a}"
            )
    if not bad:
        return ctx.result(True, "splits are distinct", "", details)
    return ctx.result(
        False,
        "; ".join(bad),
        "; ".join(bad) + ": its scores measure memory, not generalization; "
        "give a dev/test file disjoint from train (or omit it to split one off train).",
        details,
    )


@check("label_conflicts", "warning")
def label_conflicts(splits: Splits, ctx: Context):
    """The same normalized text with different labels, within and between splits."""
    labels_by_key: dict = {}
    first_ex: dict = {}
    for name in present(splits):
        for key, exs in groups(splits, name, ctx).items():
            first_ex.setdefault(key, exs[0])
            for ex in exs:
                labels_by_key.setdefault(key, {}).setdefault(name, set()).add(label_key(ex.label))
    within = {name: 0 for name in present(splits)}
    between = 0
    examples = []
    for key, by_split in labels_by_key.items():
        all_labels = set().union(*by_split.values()) - {None}
        if len(all_labels) < 2:
            continue
        inside = [n for n, s in by_split.items() if len(s - {None}) > 1]
        for n in inside:
            within[n] += 1
        if not inside:
            between += 1
        if len(examples) < 5:
            examples.append(
                {
                    "text": show(first_ex[key]),
                    "labels": {n: sorted(s - {None}) for n, s in by_split.items()},
                }
            )
    details = {"within_split": within, "between_splits": between, "examples": examples}
    n = sum(within.values()) + between
    if not n:
        return ctx.result(True, "no text has two labels", "", details)
    parts = [f"{k}: {v}" for k, v in within.items() if v]
    if between:
        parts.append(f"between splits: {between}")
    return ctx.result(
        False,
        f"{n} texts with conflicting labels",
        f"{n} texts occur with different labels ({', '.join(parts)}); "
        "check the labeling guideline, then fix or drop them.",
        details,
    )
