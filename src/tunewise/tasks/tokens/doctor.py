"""The doctor's checks of token-tagged data (registered here, named in ``TokenTask.doctor_checks``): shared sentences, tag-scheme errors,
entity types missing from train, sentences cut by max_length."""

from __future__ import annotations

from collections import Counter

from tunewise.doctor.registry import Context, Splits, check
from tunewise.doctor.text import first, pairs, present

SAME_SPLIT_SHARE = 0.5
MAX_TRUNCATED = 0.01
RARE = 10


def _key(ex) -> str:
    return " ".join(w.lower() for w in ex.words)


@check("shared_sentences", "error")
def shared_sentences(splits: Splits, ctx: Context):
    """The same sentence (words, case-folded) in two splits; an error when most of one is."""
    details: dict = {"pairs": {}, "threshold": SAME_SPLIT_SHARE}
    parts, same = [], []
    for a, b in pairs(splits):
        in_a = {}
        for ex in splits[a]:
            in_a.setdefault(_key(ex), ex)
        shared = [ex for ex in splits[b] if _key(ex) in in_a]
        share = len(shared) / len(splits[b])
        details["pairs"][f"{a}-{b}"] = {
            f"shared_sentences_of_{b}": len(shared),
            f"shared_share_of_{b}": round(share, 4),
            "examples": [
                {"text": ex.text[:200], a: in_a[_key(ex)].where, b: ex.where}
                for ex in first(shared)
            ],
        }
        if shared:
            parts.append(f"{a}-{b}: {len(shared)} sentences ({share:.1%} of {b})")
        if share >= SAME_SPLIT_SHARE:
            same.append(f"{share:.0%} of {b} sentences occur in {a}")
    if not parts:
        return ctx.result(True, "no sentence shared between splits", "", details)
    if same:
        return ctx.result(
            False,
            "; ".join(same),
            "; ".join(same) + ": its scores measure memory; give a dev/test file disjoint "
            "from train.",
            details,
        )
    return ctx.result(
        False,
        "sentences shared between splits: " + ", ".join(parts),
        "; ".join(parts) + ". Entities in sentences the model trained on are easy to find; "
        "short repeated lines (datelines, headers) are common in news data and harmless.",
        details,
        severity="warning",
    )


@check("tag_scheme", "error")
def tag_scheme(splits: Splits, ctx: Context):
    """Invalid tag sequences under the file's scheme (I- after O in BIO, unclosed BIOES ...)."""
    details: dict = {"schemes": {}, "internal": "BIO"}
    bad, total = [], 0
    for name in present(splits):
        schemes = Counter(ex.scheme for ex in splits[name])
        issues = [m for ex in splits[name] for m in ex.issues]
        total += len(issues)
        details["schemes"][name] = dict(schemes)
        details[name] = {"invalid": len(issues), "examples": first(issues, 10)}
        if issues:
            bad.append(f"{name}: {len(issues)}")
    all_schemes = {s for d in details["schemes"].values() for s in d}
    if not bad:
        title = f"tags are valid {'/'.join(sorted(all_schemes))} (converted to BIO)"
        if len(all_schemes) > 1:
            return ctx.result(
                False,
                f"splits use different tag schemes: {details['schemes']}",
                "each file was converted from its own scheme to BIO; check this is intended.",
                details,
                severity="warning",
            )
        return ctx.result(True, title, "", details)
    shown = "; ".join(m for name in present(splits) for m in details[name]["examples"][:2])
    return ctx.result(
        False,
        f"{total} invalid tag sequences ({', '.join(bad)})",
        f"{shown}. Fix the files or set data.tag_scheme; with --allow tag_scheme they are "
        "read the lenient way (an I- that opens an entity starts it).",
        details,
    )


@check("entity_types", "warning")
def entity_types(splits: Splits, ctx: Context):
    """Entity types of dev/test missing from train, and types with under 10 train entities."""
    counts = {
        name: Counter(t[2:] for ex in splits[name] for t in ex.tags or [] if t.startswith("B-"))
        for name in present(splits)
    }
    train = counts.get("train", Counter())
    missing = {name: sorted(set(c) - set(train)) for name, c in counts.items() if name != "train"}
    rare = {t: n for t, n in sorted(train.items()) if n < RARE}
    details = {
        "entities": {k: dict(v) for k, v in counts.items()},
        "missing_from_train": missing,
        "rare_in_train": rare,
    }
    parts = [f"{name}: {', '.join(ts)}" for name, ts in missing.items() if ts]
    if not parts and not rare:
        return ctx.result(True, f"{len(train)} entity types, each in train", "", details)
    msg = []
    if parts:
        msg.append(
            "types missing from train (" + "; ".join(parts) + ") can never be predicted: "
            "they count as missed entities"
        )
    if rare:
        msg.append(f"types with < {RARE} train entities: {rare}")
    title = (
        "entity types missing from train: " + "; ".join(parts)
        if parts
        else (f"{len(rare)} rare entity types in train")
    )
    return ctx.result(False, title, "; ".join(msg) + ".", details)


@check("sentence_truncation", "warning", needs_tokenizer=True)
def sentence_truncation(splits: Splits, ctx: Context):
    """Share of sentences whose sub-tokens exceed max_length (their cut words are scored as O)."""
    from tunewise.models.loading import quiet_transformers

    details: dict = {"max_length": ctx.max_length}
    parts = []
    for name in present(splits):
        words = [list(ex.words) for ex in splits[name]]
        with quiet_transformers():
            ids = ctx.tokenizer(words, is_split_into_words=True, truncation=False)["input_ids"]
        lengths = sorted(len(x) for x in ids)
        over = sum(n > ctx.max_length for n in lengths)
        share = over / len(lengths)
        details[name] = {
            "truncated": over,
            "truncated_share": round(share, 4),
            "median": lengths[len(lengths) // 2],
            "max": lengths[-1],
        }
        if share > MAX_TRUNCATED:
            parts.append(f"{name}: {share:.1%} of sentences ({over}) longer than {ctx.max_length}")
    if not parts:
        return ctx.result(True, f"sentences fit max_length {ctx.max_length}", "", details)
    return ctx.result(
        False,
        "; ".join(parts),
        "; ".join(parts) + ": words past the limit are never seen and count as O (missed "
        "entities); raise model.max_length.",
        details,
    )
